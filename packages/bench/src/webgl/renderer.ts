/** A GL context's renderer in words, as backend-gpujs's `runsOn` says it (the unmasked renderer where the driver tells it). */
export function webglRenderer(gl: WebGLRenderingContext): string {
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  return `${String(debug ? gl.getParameter(debug.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER))}, ${String(gl.getParameter(gl.VERSION))}`;
}
