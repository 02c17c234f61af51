import { RecurError, formatBytes } from '@recur/core';

const PAGE = 65536;
/** wasm32 linear memory: 65536 pages. */
export const MAX_BYTES = 65536 * PAGE;
const ALIGN = 64; // a cache line: panels and rows start aligned

interface Block {
  offset: number;
  size: number;
}

/**
 * First-fit allocator over the shared linear memory, above the module's own data and stack. Freed blocks merge
 * with their neighbours; when nothing fits, the memory grows (every thread sees the growth: the memory is shared).
 */
export class Heap {
  readonly #memory: WebAssembly.Memory;
  readonly #free: Block[] = [];
  readonly #used = new Map<number, number>();
  #end: number;
  /** Bumped at each growth: views over the memory's old buffer no longer cover all of it. */
  generation = 0;

  readonly #maxBytes: number;

  constructor(memory: WebAssembly.Memory, base: number, maxBytes = MAX_BYTES) {
    this.#memory = memory;
    this.#maxBytes = maxBytes;
    const start = align(base);
    this.#end = memory.buffer.byteLength;
    if (this.#end > start) this.#free.push({ offset: start, size: this.#end - start });
  }

  /** Byte offset of a new block of at least `bytes`, aligned to 64. */
  alloc(bytes: number): number {
    const size = align(Math.max(bytes, 1));
    let index = this.#free.findIndex((b) => b.size >= size);
    if (index < 0) index = this.#grow(size);
    const block = this.#free[index];
    const offset = block.offset;
    if (block.size === size) this.#free.splice(index, 1);
    else {
      block.offset += size;
      block.size -= size;
    }
    this.#used.set(offset, size);
    return offset;
  }

  free(offset: number): void {
    const size = this.#used.get(offset);
    if (size === undefined) return;
    this.#used.delete(offset);
    let index = this.#free.findIndex((b) => b.offset > offset);
    if (index < 0) index = this.#free.length;
    this.#free.splice(index, 0, { offset, size });
    const next = this.#free[index + 1];
    if (next && offset + size === next.offset) {
      this.#free[index].size += next.size;
      this.#free.splice(index + 1, 1);
    }
    const previous = this.#free[index - 1];
    if (previous && previous.offset + previous.size === offset) {
      previous.size += this.#free[index].size;
      this.#free.splice(index, 1);
    }
  }

  /** The size of a live block. */
  sizeOf(offset: number): number {
    return this.#used.get(offset) ?? 0;
  }

  /** Bytes in live blocks. */
  get usedBytes(): number {
    let total = 0;
    for (const size of this.#used.values()) total += size;
    return total;
  }

  #grow(size: number): number {
    const last = this.#free[this.#free.length - 1];
    const tailFree = last && last.offset + last.size === this.#end ? last.size : 0;
    const needed = Math.ceil((size - tailFree) / PAGE);
    let pages = Math.max(needed, Math.ceil(this.#end / 4 / PAGE)); // grow by a quarter at least: fewer view remakes
    try {
      this.#memory.grow(pages);
    } catch {
      try {
        pages = needed;
        this.#memory.grow(pages);
      } catch {
        // nothing changed: every block, offset and size is as it was
        throw new RecurError(
          'memory',
          `at most ${formatBytes(this.#maxBytes - this.#end + tailFree)} for one block of backend simd's WebAssembly memory (${formatBytes(this.#maxBytes)} in all; ${formatBytes(this.#end)} grown)`,
          `${formatBytes(size)} for one block`,
          'a shorter chunk, a smaller batch or layer, or fewer layers loaded',
        );
      }
    }
    this.generation++;
    const added = pages * PAGE;
    if (tailFree > 0) last.size += added;
    else this.#free.push({ offset: this.#end, size: added });
    this.#end += added;
    return this.#free.length - 1;
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
