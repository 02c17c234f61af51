import { BackendError, type TransferCounts } from '@recur/core';
import type { GPU, IKernelMapRunShortcut, IKernelRunShortcut, ISubKernelObject, Texture } from 'gpu.js';
import { SHADER_FUNCTIONS } from './kernels/math.js';
import { packRowsKernel, unpackRowsKernel } from './kernels/packed.js';
import { copyKernel, fillKernel } from './kernels/rows.js';
import { sourceNamed } from './kernels/settings.js';
import { loadGpujs } from './load.js';
import type { GpujsMode } from './platform.js';

/**
 * A tensor: a texture holding a matrix [rows, cols] (the shape's last dimension as columns), or nothing when empty.
 * The texture of a training parameter or an optimizer slot is replaced when the optimizer updates it in place.
 * @see [backend-gpujs README (a tested example)](../README.md)
 */
export class GpuStorage {
  /**
   * @param texture the matrix, or null when it is empty, or until it is first read when `packed` holds its values
   * @param packed the same values packed over batch rows (kernels/packed.ts): a forward's final state, which the
   * next chunk's step kernels read as it is (a streamed step never unpacks its carried state)
   */
  constructor(
    public texture: Texture | null,
    readonly rows: number,
    readonly cols: number,
    readonly packed: Texture | null = null,
  ) {}

  /** Bytes of its textures (a packed copy holds its rows rounded up to 4). */
  get bytes(): number {
    return (this.rows + (this.packed ? Math.ceil(this.rows / 4) * 4 : 0)) * this.cols * 4;
  }
}

type Kernel = IKernelRunShortcut | IKernelMapRunShortcut<ISubKernelObject>;

type TextureSize = (settings: { context?: WebGLRenderingContext }, dims: number[]) => Int32Array | number[];
interface GpujsUtils {
  getKernelTextureSize: TextureSize;
  closestSquareDimensions(length: number): Int32Array | number[];
  recurPacksTallTextures?: boolean;
}

/**
 * gpu.js gives a kernel whose output is a matrix [cols, rows] a texture of exactly that size, so a matrix of more
 * rows (T·B) or columns than MAX_TEXTURE_SIZE (8192 on SwiftShader) fails. Such an output gets a square texture
 * instead, which gpu.js indexes the same way (it addresses every texture through the element's linear index).
 */
function packTallTextures(utils: unknown): void {
  const u = utils as GpujsUtils;
  if (u.recurPacksTallTextures) return;
  const original = u.getKernelTextureSize;
  u.getKernelTextureSize = (settings, dims) => {
    const size = original(settings, dims);
    const gl = settings.context,
      max = gl ? (gl.getParameter(gl.MAX_TEXTURE_SIZE) as number) : 4096;
    return size[0] <= max && size[1] <= max ? size : u.closestSquareDimensions(dims.reduce((a, b) => a * (b || 1), 1));
  };
  u.recurPacksTallTextures = true;
}

/** An argument's sizes as gpu.js sees them: a texture's output and texture size, an array's lengths, a number's none. */
function sizesOf(arg: unknown): string {
  const t = arg as { output?: ArrayLike<number>; size?: ArrayLike<number> };
  if (t && typeof t === 'object' && t.output && t.size) return `${Array.from(t.output).join('x')}/${Array.from(t.size).join('x')}`;
  if (Array.isArray(arg)) return `[${arg.length}x${(arg[0] as ArrayLike<number> | undefined)?.length ?? 0}]`;
  if (ArrayBuffer.isView(arg)) return `[${(arg as Float32Array).length}]`;
  return typeof arg;
}

/** The rows of a host matrix as gpu.js takes a 2-D argument. */
export const rowsOf = (values: ArrayLike<number>, rows: number, cols: number): Float32Array[] =>
  Array.from({ length: rows }, (_, r) => Float32Array.from({ length: cols }, (_, c) => values[r * cols + c]));

/**
 * What every part of the backend shares: the gpu.js instance and its kernels, the GL error and lost-context
 * handling, the texture and transfer counters, and the live storages. The forward, backward and training parts are
 * functions over it (the backend class only routes the spec's methods to them).
 */
export class GpuContext {
  readonly #gpu: GPU;
  readonly #kernels = new Map<string, Kernel>();
  /** Live tensors; parameters and optimizer-owned storages are in `#owned` (kernels read both). */
  readonly live = new Set<GpuStorage>();
  readonly #owned = new Set<GpuStorage>();
  bytes = 0;
  texturesCreated = 0;
  texturesDeleted = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Why the GL context is gone (lost, or destroyed), once it is: every later kernel refuses. */
  lost: string | null = null;

  constructor(mode: GpujsMode) {
    const { GPU: Gpu, utils } = loadGpujs();
    packTallTextures(utils);
    this.#gpu = new Gpu({ mode });
    // the activations kernels call by name: defined for every input, NaN kept (kernels/math.ts)
    for (const [name, fn] of Object.entries(SHADER_FUNCTIONS))
      this.#gpu.addFunction(sourceNamed(fn, name) as unknown as Parameters<GPU['addFunction']>[0]);
  }

  get gl(): WebGLRenderingContext {
    return (this.#gpu as unknown as { context: WebGLRenderingContext }).context;
  }

  contextLost(): boolean {
    return this.gl?.isContextLost?.() === true;
  }

  /**
   * Runs GL work: a gpu.js error (a shader that does not compile, a dead context) becomes a BackendError with its
   * message, and a context lost meanwhile refuses the result rather than return what a dead context reads (zeros).
   */
  guard<T>(fn: () => T): T {
    if (this.lost)
      throw new BackendError('backend', 'a live WebGL context', `the context was lost (${this.lost})`, 'make a new GpujsBackend');
    let result: T;
    try {
      result = fn();
    } catch (error) {
      const message = (error as Error)?.message?.split('\n')[0] ?? String(error);
      if (this.contextLost() || /invalid gl context|context lost/i.test(message)) this.lost = message;
      throw new BackendError('backend', this.lost ? 'a live WebGL context' : 'gpu.js kernels that compile and run', `gpu.js: ${message}`);
    }
    if (this.contextLost()) {
      this.lost = 'isContextLost() after a kernel';
      throw new BackendError('backend', 'a live WebGL context', 'the context was lost during the call', 'make a new GpujsBackend');
    }
    return result;
  }

  /**
   * Runs a kernel made once per key and per argument sizes: gpu.js compiles a shader per output size and bakes its
   * arguments' sizes in, so the key names the output's and `#call` adds the arguments'. Kernels live as long as the backend: a destroyed gpu.js
   * kernel takes the textures it produced with it (reads then throw, and as inputs they read as zeros), so none is
   * evicted; a process that runs very many shapes keeps one shader program per shape. Returns the new texture
   * (counted); a kernel map's outputs come back by name, each counted.
   */
  run(key: string, make: (gpu: GPU) => IKernelRunShortcut, ...args: unknown[]): Texture {
    return this.made(this.#call(key, make, args) as Texture);
  }

  runMap<K extends string>(
    key: string,
    make: (gpu: GPU) => IKernelMapRunShortcut<ISubKernelObject>,
    ...args: unknown[]
  ): Record<K | 'result', Texture> {
    const outputs = this.#call(key, make, args) as Record<K | 'result', Texture>;
    for (const name of Object.keys(outputs)) this.made(outputs[name as K]);
    return outputs;
  }

  #call(key: string, make: (gpu: GPU) => Kernel, args: unknown[]): unknown {
    // gpu.js bakes each argument's sizes into the shader: the key names them, so that one kernel never reads a
    // texture of another size through sizes baked for the first
    const full = `${key} | ${args.map(sizesOf).join(' ')}`;
    return this.guard(() => {
      let k = this.#kernels.get(full);
      if (!k) this.#kernels.set(full, (k = make(this.#gpu)));
      return (k as unknown as (...a: unknown[]) => unknown)(...args);
    });
  }

  made(texture: Texture): Texture {
    this.texturesCreated++;
    return texture;
  }

  delete(texture: Texture | null | undefined): void {
    if (!texture) return;
    try {
      texture.delete();
    } catch {
      // a lost context has freed it already
    }
    this.texturesDeleted++;
  }

  /** A host array a kernel reads (lengths, row lists, ids): counted as moved in. */
  hostArgument<A extends Float32Array>(array: A): A {
    this.bytesIn += array.byteLength;
    return array;
  }

  /** A new texture holding host values (an upload). */
  upload(values: ArrayLike<number>, rows: number, cols: number): Texture {
    this.bytesIn += rows * cols * 4;
    return this.run(`copy ${rows}x${cols}`, (gpu) => copyKernel(gpu, rows, cols), rowsOf(values, rows, cols));
  }

  /** A new texture with a texture's values. */
  copy(texture: Texture, rows: number, cols: number): Texture {
    return this.run(`copy-texture ${rows}x${cols}`, (gpu) => copyKernel(gpu, rows, cols), texture);
  }

  /** A matrix [T·B, K] packed over batch rows step by step (kernels/packed.ts): a chunk's input, a state (T = 1). */
  packRows(t: Texture, T: number, B: number, K: number): Texture {
    return this.run(`pack-rows ${T}x${B}x${K}`, (gpu) => packRowsKernel(gpu, T, B, K), t);
  }

  /** Packed states stacked [T·B4, K] -> [T·B, K] from state `shift` on, zeros past each row's length when `lengths` (y). */
  unpackRows(t: Texture, T: number, B: number, K: number, shift: 0 | 1 = 0, lengths: Texture | null = null): Texture {
    return this.run(
      `unpack-rows ${T}x${B}x${K} ${shift} ${lengths !== null}`,
      (gpu) => unpackRowsKernel(gpu, T, B, K, shift, lengths !== null),
      t,
      ...(lengths ? [lengths] : []),
    );
  }

  zeros(rows: number, cols: number): Texture {
    return this.run(`fill ${rows}x${cols} 0`, (gpu) => fillKernel(gpu, rows, cols, 0));
  }

  read(s: GpuStorage): Float32Array {
    const out = new Float32Array(s.rows * s.cols);
    if (!s.texture) return out;
    const rows = this.guard(() => s.texture!.toArray() as Float32Array[]);
    rows.forEach((row, r) => out.set(row.subarray(0, s.cols), r * s.cols));
    this.bytesOut += out.byteLength;
    return out;
  }

  /** A new live tensor (counted in `memory()`). */
  wrap(texture: Texture | null, rows: number, cols: number, packed: Texture | null = null): GpuStorage {
    const s = new GpuStorage(texture, rows, cols, packed);
    this.live.add(s);
    this.bytes += s.bytes;
    return s;
  }

  /** A storage that lives as long as its owner (a weights upload's parameters): kernels read it, `dispose` skips it. */
  own(texture: Texture, rows: number, cols: number): GpuStorage {
    const s = new GpuStorage(texture, rows, cols);
    this.#owned.add(s);
    return s;
  }

  disown(s: GpuStorage): void {
    if (this.#owned.delete(s)) this.delete(s.texture);
  }

  /**
   * A live storage of this backend, its plain texture made from its packed one if it has none yet (a forward's final
   * state); `packedWillDo`: the caller reads the packed form when there is one.
   */
  storage(storage: unknown, packedWillDo = false): GpuStorage {
    if (!(storage instanceof GpuStorage) || !(this.live.has(storage) || this.#owned.has(storage)))
      throw new Error('storage is not a live tensor of this backend');
    if (!packedWillDo && storage.texture === null && storage.packed !== null) {
      storage.texture = this.unpackRows(storage.packed, 1, storage.rows, storage.cols);
    }
    return storage;
  }

  dispose(storage: unknown): void {
    if (storage instanceof GpuStorage && this.live.delete(storage)) {
      this.bytes -= storage.bytes;
      this.delete(storage.texture);
      this.delete(storage.packed);
    }
  }

  /** Puts a new texture in a storage in place (an optimizer update), deleting the old one. */
  replace(s: GpuStorage, texture: Texture): void {
    const old = s.texture;
    s.texture = texture;
    this.delete(old);
  }

  transfers(): TransferCounts {
    return { bytesIn: this.bytesIn, bytesOut: this.bytesOut };
  }
}
