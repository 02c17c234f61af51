/**
 * tanh for shaders, added to the gpu.js instance (`addFunction`) and called by name from kernels: gpu.js's WebGL1
 * tanh is (e^2x - 1)/(e^2x + 1), which is NaN past |x| ≈ 44 (∞/∞: an LSTM cell state grows that large) and loses
 * its relative precision near 0 (1 - e cancels). Here e = exp(-2|x|) never overflows, and a short series serves
 * below 0.1 (its first left-out term is under 1e-9 of the value there).
 */
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
  return t;
}
