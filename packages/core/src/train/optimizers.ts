import { RecurError, describe } from '../errors.js';
import { checkOptions } from '../options.js';
import type { FloatArray } from '../spec.js';

function checkRate(value: unknown, argument: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new RecurError(argument, 'a positive finite number', describe(value));
  return value;
}

function checkUnit(value: unknown, argument: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) throw new RecurError(argument, 'a number in [0, 1)', describe(value));
  return value;
}

/** Updates parameters in place from gradients; the parameter list must keep its order between steps. */
export interface Optimizer {
  readonly learningRate: number;
  step(params: readonly FloatArray[], grads: readonly FloatArray[]): void;
}

function checkPairs(params: readonly FloatArray[], grads: readonly FloatArray[]): void {
  if (params.length !== grads.length) throw new RecurError('grads', `${params.length} arrays (one per parameter)`, `${grads.length} arrays`);
  params.forEach((p, i) => {
    if (grads[i].length !== p.length) throw new RecurError(`grads[${i}]`, `${p.length} values`, `${grads[i].length} values`);
  });
}

/** Stochastic gradient descent with (heavy-ball) momentum. */
export class SGD implements Optimizer {
  readonly learningRate: number;
  readonly momentum: number;
  #velocity: FloatArray[] = [];

  constructor(options: { learningRate: number; momentum?: number }) {
    const opts = checkOptions(options, ['learningRate', 'momentum'], 'options');
    this.learningRate = checkRate(opts.learningRate, 'options.learningRate');
    this.momentum = opts.momentum === undefined ? 0 : checkUnit(opts.momentum, 'options.momentum');
  }

  step(params: readonly FloatArray[], grads: readonly FloatArray[]): void {
    checkPairs(params, grads);
    params.forEach((p, i) => {
      const g = grads[i];
      const v = (this.#velocity[i] ??= new Float64Array(p.length));
      for (let j = 0; j < p.length; j++) {
        v[j] = this.momentum * v[j] + g[j];
        p[j] -= this.learningRate * v[j];
      }
    });
  }
}

/** Adam (Kingma & Ba), with bias correction. */
export class Adam implements Optimizer {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  #m: FloatArray[] = [];
  #v: FloatArray[] = [];
  #t = 0;

  constructor(options: { learningRate?: number; beta1?: number; beta2?: number; epsilon?: number } = {}) {
    const opts = checkOptions(options, ['learningRate', 'beta1', 'beta2', 'epsilon'], 'options');
    this.learningRate = opts.learningRate === undefined ? 1e-3 : checkRate(opts.learningRate, 'options.learningRate');
    this.beta1 = opts.beta1 === undefined ? 0.9 : checkUnit(opts.beta1, 'options.beta1');
    this.beta2 = opts.beta2 === undefined ? 0.999 : checkUnit(opts.beta2, 'options.beta2');
    this.epsilon = opts.epsilon === undefined ? 1e-8 : checkRate(opts.epsilon, 'options.epsilon');
  }

  step(params: readonly FloatArray[], grads: readonly FloatArray[]): void {
    checkPairs(params, grads);
    this.#t++;
    const c1 = 1 - this.beta1 ** this.#t, c2 = 1 - this.beta2 ** this.#t;
    // constants out of the loop (it runs over every parameter each step): m̂ = m / c1, v̂ = v / c2
    const b1 = this.beta1, b2 = this.beta2, step = this.learningRate / c1, inverseC2 = 1 / c2, eps = this.epsilon;
    params.forEach((p, i) => {
      const g = grads[i];
      const m = (this.#m[i] ??= new Float64Array(p.length));
      const v = (this.#v[i] ??= new Float64Array(p.length));
      for (let j = 0; j < p.length; j++) {
        const gj = g[j];
        const mj = b1 * m[j] + (1 - b1) * gj, vj = b2 * v[j] + (1 - b2) * gj * gj;
        m[j] = mj;
        v[j] = vj;
        p[j] -= (step * mj) / (Math.sqrt(vj * inverseC2) + eps);
      }
    });
  }
}

/** The global L2 norm of all gradients. */
export function globalNorm(grads: readonly FloatArray[]): number {
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  return Math.sqrt(sum);
}

/** Scales every gradient in place so that the global norm is at most maxNorm; returns the norm before. */
export function clipByGlobalNorm(grads: readonly FloatArray[], maxNorm: number): number {
  checkRate(maxNorm, 'maxNorm');
  const norm = globalNorm(grads);
  if (norm > maxNorm) {
    const scale = maxNorm / norm;
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= scale;
  }
  return norm;
}
