import { loadGl, type GlFactory } from './load.js';

/**
 * Where gpu.js can run Recur's kernels, chosen explicitly: `webgl2` in browsers, `headlessgl` in Node when the `gl`
 * package is built and an X display is present. gpu.js's own CPU mode is not a GPU backend, and is never chosen.
 */
export type GpujsMode = 'webgl2' | 'headlessgl';

/** Where gpu.js can run here: the mode, the renderer, and why not when it cannot. */
export interface GpujsPlatform {
  readonly available: boolean;
  readonly mode: GpujsMode | null;
  /** Why not, in words a person can act on. */
  readonly reason?: string;
  /** The GL implementation's own names (the unmasked renderer where the driver tells it). */
  readonly version?: string;
  readonly renderer?: string;
  /**
   * A CPU renderer (llvmpipe, SwiftShader, softpipe): figures from it are CPU-renderer figures, not GPU speeds.
   * null when the driver does not say (headless-gl shows only "ANGLE"; under Xvfb it is Mesa's software rasteriser).
   */
  readonly software?: boolean | null;
}

/** What a GL context must offer for single-precision kernels (float textures read and rendered). */
const NEEDED_EXTENSIONS = ['OES_texture_float'] as const;
const SOFTWARE = /llvmpipe|swiftshader|softpipe|software/i;

interface DetectOptions {
  /** @internal Loads the `gl` package (tests replace it to see the reasons). */
  readonly loadGl?: () => GlFactory;
  /** @internal The X display (tests pass none). */
  readonly display?: string | undefined;
}

const BUILD_HINT =
  'build it from source: bash scripts/build-gl.sh (after apt-get install libxi-dev libxext-dev libglu1-mesa-dev libglew-dev pkg-config)';

/**
 * Node: headless-gl on an X display. Creates and destroys one 1x1 context.
 * @see [backend-gpujs README (a tested example)](../README.md)
 */
export function detectPlatform(options: DetectOptions = {}): GpujsPlatform {
  if (typeof globalThis.process?.versions?.node !== 'string') return detectBrowser();
  let createGl: GlFactory;
  try {
    createGl = (options.loadGl ?? loadGl)();
  } catch (error) {
    return {
      available: false,
      mode: null,
      reason: `headless-gl (the gl package) is not built or not installed (${(error as Error).message.split('\n')[0]}): ${BUILD_HINT}`,
    };
  }
  const display = 'display' in options ? options.display : globalThis.process.env.DISPLAY;
  if (!display) {
    return {
      available: false,
      mode: null,
      reason: 'no X display for headless-gl: run under xvfb-run -a (apt-get install xvfb xauth), or set DISPLAY',
    };
  }
  const gl = createGl(1, 1, { preserveDrawingBuffer: false });
  if (!gl)
    return {
      available: false,
      mode: null,
      reason: `headless-gl could not create a context on display ${display} (is the X server running?)`,
    };
  try {
    return describeContext(gl, 'headlessgl');
  } finally {
    (gl.getExtension('STACKGL_destroy_context' as never) as { destroy(): void } | null)?.destroy(); // headless-gl's own
  }
}

function detectBrowser(): GpujsPlatform {
  const doc = (globalThis as { document?: { createElement(tag: 'canvas'): { getContext(kind: 'webgl2'): WebGL2RenderingContext | null } } })
    .document;
  if (!doc) return { available: false, mode: null, reason: 'neither Node.js nor a browser document: no WebGL to run on' };
  const gl = doc.createElement('canvas').getContext('webgl2');
  if (!gl)
    return { available: false, mode: null, reason: 'this browser gives no WebGL2 context (disabled, or no GPU and no software renderer)' };
  const platform = describeContext(gl, 'webgl2');
  (gl.getExtension('WEBGL_lose_context') as { loseContext(): void } | null)?.loseContext();
  return platform;
}

function describeContext(gl: WebGLRenderingContext | WebGL2RenderingContext, mode: GpujsMode): GpujsPlatform {
  const version = String(gl.getParameter(gl.VERSION));
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(debug ? gl.getParameter(debug.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
  const software = SOFTWARE.test(renderer) ? true : debug ? false : null;
  // WebGL2 has float textures in core; WebGL1 (headless-gl) needs the extension
  const missing = mode === 'webgl2' ? [] : NEEDED_EXTENSIONS.filter((name) => !gl.getExtension(name));
  if (missing.length)
    return {
      available: false,
      mode: null,
      version,
      renderer,
      software,
      reason: `the GL context (${renderer}) lacks ${missing.join(', ')}: no single-precision textures`,
    };
  return { available: true, mode, version, renderer, software };
}
