import { alloc } from '@recur/backend-cpu';
import { gateCount, type FloatArray, type LayerSpec } from '@recur/core';
import { Heap } from './heap.js';
import { JOB, JOB_BYTES, KIND } from './job.js';
import { BLOCK, packBias, packPanels, recurrentGateGroups, unitBlocks } from './pack.js';
import { CONTROL_BYTES, ThreadPool } from './threads.js';

const STACK_BYTES = 64 * 1024;

interface KernelExports {
  readonly run: (job: number, tid: number) => void;
  readonly __stack_pointer: WebAssembly.Global;
  readonly __heap_base: WebAssembly.Global;
}

/** One layer's weights in linear memory, packed as the kernels read them. */
export interface PackedLayer {
  readonly spec: LayerSpec;
  readonly nub: number;
  /** Byte offsets: the one block holding everything, then its parts. */
  readonly block: number;
  readonly bytes: number;
  readonly wih: number;
  readonly whh: number;
  readonly whhn: number;
  readonly bias: number;
  readonly bhn: number;
}

export interface LayerInputs {
  readonly x: FloatArray;
  readonly h0: FloatArray;
  readonly c0: FloatArray | null;
  readonly time: number;
  readonly batch: number;
  readonly seqLens: Int32Array | null;
}

export interface LayerOutputs {
  readonly y: Float32Array;
  readonly h: Float32Array;
  readonly c: Float32Array | null;
}

export interface EngineOptions {
  /** Threads in all, this one included. */
  readonly threads: number;
  /** How long an idle helper spins for the next job before it sleeps. */
  readonly spinMs: number;
}

/** The kernel module in shared memory, its helper threads, and the packing of weights and chunks into it. */
export class Engine {
  readonly #memory: WebAssembly.Memory;
  readonly #exports: KernelExports;
  readonly #heap: Heap;
  readonly #pool: ThreadPool | null;
  readonly #job: number;
  #scratch = 0;
  #scratchBytes = 0;

  private constructor(memory: WebAssembly.Memory, exports: KernelExports, heap: Heap, pool: ThreadPool | null, job: number) {
    this.#memory = memory;
    this.#exports = exports;
    this.#heap = heap;
    this.#pool = pool;
    this.#job = job;
  }

  static async create(wasm: BufferSource, options: EngineOptions): Promise<Engine> {
    const module = await WebAssembly.compile(wasm);
    const memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    const exports = instance.exports as unknown as KernelExports;
    const heap = new Heap(memory, exports.__heap_base.value as number);
    const control = heap.alloc(CONTROL_BYTES);
    const job = heap.alloc(JOB_BYTES);
    new Int32Array(memory.buffer, control, CONTROL_BYTES / 4).fill(0);
    new Int32Array(memory.buffer, job, JOB_BYTES / 4).fill(0);
    const helpers = Math.max(0, options.threads - 1);
    const stacks = Array.from({ length: helpers }, () => heap.alloc(STACK_BYTES) + STACK_BYTES);
    const pool = helpers > 0 ? await ThreadPool.start({ module, memory, control, job, stacks, spinMs: options.spinMs }) : null;
    return new Engine(memory, exports, heap, pool, job);
  }

  get threads(): number {
    return this.#pool?.size ?? 1;
  }

  /** Bytes of linear memory in live blocks (weights, scratch, stacks). */
  get heapBytes(): number {
    return this.#heap.usedBytes;
  }

  #f32(): Float32Array {
    return new Float32Array(this.#memory.buffer);
  }

  pack(spec: LayerSpec, wIh: FloatArray, wHh: FloatArray, inputBias: FloatArray, hiddenBiasN: FloatArray | null): PackedLayer {
    const H = spec.units, I = spec.inputSize, G = gateCount(spec.kind), nub = unitBlocks(H);
    const groups = recurrentGateGroups(spec);
    const allGates = Array.from({ length: G }, (_, g) => g);
    const floats = { wih: nub * I * G * BLOCK, whh: nub * H * groups[0].length * BLOCK, whhn: groups[1] ? nub * H * BLOCK : 0, bias: nub * G * BLOCK, bhn: hiddenBiasN ? nub * BLOCK : 0 };
    const sizes = Object.values(floats).map((n) => align(n * 4));
    const bytes = sizes.reduce((a, b) => a + b, 0);
    const block = this.#heap.alloc(bytes);
    const [wih, whh, whhn, bias, bhn] = sizes.reduce<number[]>((acc, _, i) => [...acc, i === 0 ? block : acc[i - 1] + sizes[i - 1]], []);
    const f32 = this.#f32();
    packPanels(wIh, H, I, allGates, f32, wih / 4);
    packPanels(wHh, H, H, groups[0], f32, whh / 4);
    if (groups[1]) packPanels(wHh, H, H, groups[1], f32, whhn / 4);
    packBias(inputBias, H, allGates, f32, bias / 4);
    if (hiddenBiasN) packBias(hiddenBiasN, H, [0], f32, bhn / 4);
    return { spec, nub, block, bytes, wih, whh, whhn: groups[1] ? whhn : 0, bias, bhn: hiddenBiasN ? bhn : 0 };
  }

  free(layer: PackedLayer): void {
    this.#heap.free(layer.block);
  }

  /** One layer over a chunk: copy the chunk in, run every thread's share, copy the outputs out. */
  forward(layer: PackedLayer, input: LayerInputs): LayerOutputs {
    const { spec, nub } = layer;
    const { time: T, batch: B } = input;
    const H = spec.units, I = spec.inputSize, Hp = nub * BLOCK, G = gateCount(spec.kind);
    const lstm = spec.kind === 'lstm', gruBefore = spec.kind === 'gru' && !spec.resetAfter;
    const parts = [T * B * I * 4, T * B * nub * G * BLOCK * 4, 2 * B * Hp * 4, lstm ? B * Hp * 4 : 0, gruBefore ? B * Hp * 4 : 0, T * B * Hp * 4, input.seqLens ? B * 4 : 0].map(align);
    const base = this.#scratchFor(parts.reduce((a, b) => a + b, 0));
    const [x, proj, h, c, rh, y, seqlens] = parts.reduce<number[]>((acc, _, i) => [...acc, i === 0 ? base : acc[i - 1] + parts[i - 1]], []);

    const f32 = this.#f32();
    f32.set(input.x, x / 4);
    writeRows(f32, h / 4, input.h0, B, H, Hp);
    if (lstm) writeRows(f32, c / 4, input.c0!, B, H, Hp);
    if (input.seqLens) new Int32Array(this.#memory.buffer, seqlens, B).set(input.seqLens);

    const threads = Math.min(this.threads, Math.max(1, Math.floor(nub / 8))); // at least 32 units a thread
    const job = new Uint32Array(this.#memory.buffer, this.#job, JOB_BYTES / 4);
    job.fill(0);
    job[JOB.kind] = KIND[spec.kind];
    job[JOB.variant] = spec.kind === 'gru' ? Number(spec.resetAfter) : spec.kind === 'rnn' ? Number(spec.activation === 'relu') : 0;
    job[JOB.T] = T; job[JOB.B] = B; job[JOB.I] = I; job[JOB.H] = H; job[JOB.nub] = nub; job[JOB.nthreads] = threads;
    job[JOB.x] = x; job[JOB.wih] = layer.wih; job[JOB.whh] = layer.whh; job[JOB.whhn] = layer.whhn; job[JOB.bias] = layer.bias;
    job[JOB.bhn] = layer.bhn; job[JOB.proj] = proj; job[JOB.h] = h; job[JOB.c] = lstm ? c : 0; job[JOB.rh] = gruBefore ? rh : 0;
    job[JOB.y] = y; job[JOB.seqlens] = input.seqLens ? seqlens : 0;

    const runHere = () => {
      try {
        this.#exports.run(this.#job, 0);
      } catch (error) {
        Atomics.store(new Int32Array(job.buffer, job.byteOffset, job.length), JOB.abort, 1); // release the helpers' barriers
        throw error;
      }
    };
    if (threads > 1 && this.#pool) this.#pool.run(runHere);
    else runHere();

    const out = this.#f32();
    return {
      y: readRows(out, y / 4, T * B, H, Hp),
      h: readRows(out, (h + (T % 2) * B * Hp * 4) / 4, B, H, Hp),
      c: lstm ? readRows(out, c / 4, B, H, Hp) : null,
    };
  }

  /** One grow-only scratch block for the chunk being run. */
  #scratchFor(bytes: number): number {
    if (bytes > this.#scratchBytes) {
      if (this.#scratch) this.#heap.free(this.#scratch);
      this.#scratchBytes = Math.max(bytes, Math.ceil(this.#scratchBytes * 1.5));
      this.#scratch = this.#heap.alloc(this.#scratchBytes);
    }
    return this.#scratch;
  }

  async dispose(): Promise<void> {
    await this.#pool?.stop();
  }
}

function align(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}

/** rows x H values into rows of Hp floats (the padding lanes zeroed). */
function writeRows(f32: Float32Array, at: number, values: FloatArray, rows: number, H: number, Hp: number): void {
  if (H === Hp) {
    f32.set(values, at);
    return;
  }
  f32.fill(0, at, at + rows * Hp);
  for (let r = 0; r < rows; r++) f32.set(values.subarray(r * H, (r + 1) * H), at + r * Hp);
}

function readRows(f32: Float32Array, at: number, rows: number, H: number, Hp: number): Float32Array {
  const out = alloc('float32', rows * H) as Float32Array;
  if (H === Hp) {
    out.set(f32.subarray(at, at + rows * H));
    return out;
  }
  for (let r = 0; r < rows; r++) out.set(f32.subarray(at + r * Hp, at + r * Hp + H), r * H);
  return out;
}
