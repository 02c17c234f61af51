// The activations as functions added to every gpu.js instance (`addFunction`) and called by name from kernels.
// Shader math is looser than IEEE where it matters here: gpu.js's WebGL1 tanh is (e^2x - 1)/(e^2x + 1), NaN past
// |x| ≈ 44 (∞/∞: an LSTM cell state grows that large) and cancelling near 0; SwiftShader's exp(NaN) is +∞ (so
// 1/(1 + e^-x) turns NaN into 0) and its max(NaN, 0) is 0. A NaN must come out as NaN (allowNonFinite weights,
// the finite checks): each function tests for it with ordered comparisons, which hold for every number but NaN.

/** tanh with e = exp(-2|x|), which never overflows, and a short series below 0.1 (its first left-out term < 1e-9 of the value). */
export function tanhStable(x: number): number {
  const a = Math.abs(x);
  let t = 0;
  if (a < 0.1) {
    const s = a * a;
    t = a * (1 - s * (0.3333333333 - s * (0.1333333333 - s * 0.05396825397)));
  } else {
    const e = Math.exp(-2 * a);
    t = (1 - e) / (1 + e);
  }
  if (x < 0) t = -t;
  if (!(x <= 0 || x > 0)) t = x;
  return t;
}

export function sigmoidStable(x: number): number {
  let v = 1 / (1 + Math.exp(-x));
  if (!(x <= 0 || x > 0)) v = x;
  return v;
}

export function reluStable(x: number): number {
  let v = 0;
  if (x > 0) v = x;
  if (!(x <= 0 || x > 0)) v = x;
  return v;
}

/** Every function above, by the name kernels call it. */
export const SHADER_FUNCTIONS = { tanhStable, sigmoidStable, reluStable } as const;
