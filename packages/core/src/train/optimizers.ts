import { RecurError, describe } from '../errors.js';
import { checkOptions } from '../options.js';
import { optimizerSlots, type FloatArray, type OptimizerRule } from '../spec.js';

function checkRate(value: unknown, argument: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new RecurError(argument, 'a positive finite number', describe(value));
  return value;
}

function checkUnit(value: unknown, argument: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) throw new RecurError(argument, 'a number in [0, 1)', describe(value));
  return value;
}

/** Updates parameters in place from gradients; the parameter list must keep its order between steps. */
export interface Optimizer {
  readonly learningRate: number;
  /** Updates `params` in place from `grads` (same order and sizes). */
  step(params: readonly FloatArray[], grads: readonly FloatArray[]): void;
}

function checkPairs(params: readonly FloatArray[], grads: readonly FloatArray[]): void {
  if (params.length !== grads.length)
    throw new RecurError('grads', `${params.length} arrays (one per parameter)`, `${grads.length} arrays`);
  params.forEach((p, i) => {
    if (grads[i].length !== p.length) throw new RecurError(`grads[${i}]`, `${p.length} values`, `${grads[i].length} values`);
  });
}

/**
 * One update of one parameter by `rule`, in place on `param` and its `slots` (sgd [velocity], adam [m, v]), the
 * gradient scaled by `gradScale` first; `step` counts updates from 1. The optimizers' host step and backend-cpu's
 * optimizer kernel both run this.
 * @see [docs/training.md](../../../../docs/training.md)
 */
export function updateParameter(
  rule: OptimizerRule,
  step: number,
  gradScale: number,
  param: FloatArray,
  grad: FloatArray,
  slots: readonly FloatArray[],
): void {
  const n = param.length;
  if (rule.kind === 'sgd') {
    const v = slots[0],
      mu = rule.momentum,
      lr = rule.learningRate;
    for (let j = 0; j < n; j++) {
      const vj = mu * v[j] + gradScale * grad[j];
      v[j] = vj;
      param[j] -= lr * vj;
    }
    return;
  }
  // constants out of the loop (it runs over every parameter each step): m̂ = m / c1, v̂ = v / c2
  const b1 = rule.beta1,
    b2 = rule.beta2,
    eps = rule.epsilon;
  const c1 = 1 - b1 ** step,
    c2 = 1 - b2 ** step,
    stepSize = rule.learningRate / c1,
    inverseC2 = 1 / c2;
  const m = slots[0],
    v = slots[1];
  for (let j = 0; j < n; j++) {
    const gj = gradScale * grad[j];
    const mj = b1 * m[j] + (1 - b1) * gj,
      vj = b2 * v[j] + (1 - b2) * gj * gj;
    m[j] = mj;
    v[j] = vj;
    param[j] -= (stepSize * mj) / (Math.sqrt(vj * inverseC2) + eps);
  }
}

/**
 * SGD and Adam: an update `rule` that a backend's optimizer kernel can apply in place, and the state between steps
 * (float64 slots per parameter and the count of updates). A TbpttTrainer on such a backend moves the state onto it
 * while the trainer lives and back when it is disposed, so that the optimizer carries on wherever it runs next;
 * one live trainer at a time may use an optimizer.
 * @see [docs/training.md](../../../../docs/training.md)
 */
export abstract class RuleOptimizer implements Optimizer {
  abstract readonly learningRate: number;
  abstract readonly rule: OptimizerRule;
  #slots: FloatArray[][] = [];
  #t = 0;
  #trainer: object | null = null;
  /** The backend whose copy of the state is newer than ours (a live trainer's), or null. */
  #stateOn: string | null = null;

  /** Updates `params` in place from `grads` (same order and sizes), keeping the optimizer's state between calls. */
  step(params: readonly FloatArray[], grads: readonly FloatArray[]): void {
    checkPairs(params, grads);
    if (this.#stateOn !== null) {
      throw new RecurError(
        'optimizer',
        'its state on the host',
        `state kept on backend ${JSON.stringify(this.#stateOn)} by a live TbpttTrainer (dispose it first)`,
      );
    }
    this.#t++;
    const count = optimizerSlots(this.rule);
    params.forEach((p, i) => {
      const slots = (this.#slots[i] ??= Array.from({ length: count }, () => new Float64Array(p.length)));
      updateParameter(this.rule, this.#t, 1, p, grads[i], slots);
    });
  }

  /** @internal A trainer takes the optimizer (refused while another live trainer has it). */
  claim(trainer: object): void {
    if (this.#trainer !== null && this.#trainer !== trainer) {
      throw new RecurError(
        'options.optimizer',
        'an optimizer no other live TbpttTrainer uses (one optimizer per trainer)',
        'one in use by another trainer',
      );
    }
    this.#trainer = trainer;
  }

  /** @internal */
  unclaim(trainer: object): void {
    if (this.#trainer === trainer) this.#trainer = null;
  }

  /** @internal The state for a trainer that moves it to `backend` (`importState` brings it back). */
  exportState(backend: string): { t: number; slots: readonly (readonly FloatArray[])[] } {
    this.#stateOn = backend;
    return { t: this.#t, slots: this.#slots };
  }

  /** @internal The state a trainer read back from its backend: the host's again. */
  importState(t: number, slots: FloatArray[][]): void {
    this.#t = t;
    this.#slots = slots;
    this.#stateOn = null;
  }
}

/**
 * Stochastic gradient descent with (heavy-ball) momentum.
 * @see [docs/training.md](../../../../docs/training.md)
 */
export class SGD extends RuleOptimizer {
  readonly learningRate: number;
  readonly momentum: number;
  readonly rule: OptimizerRule;

  constructor(options: { learningRate: number; momentum?: number }) {
    super();
    const opts = checkOptions(options, ['learningRate', 'momentum'], 'options');
    this.learningRate = checkRate(opts.learningRate, 'options.learningRate');
    this.momentum = opts.momentum === undefined ? 0 : checkUnit(opts.momentum, 'options.momentum');
    this.rule = Object.freeze({ kind: 'sgd', learningRate: this.learningRate, momentum: this.momentum });
  }
}

/**
 * Adam (Kingma & Ba), with bias correction.
 * @see [docs/training.md](../../../../docs/training.md)
 */
export class Adam extends RuleOptimizer {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly rule: OptimizerRule;

  constructor(options: { learningRate?: number; beta1?: number; beta2?: number; epsilon?: number } = {}) {
    super();
    const opts = checkOptions(options, ['learningRate', 'beta1', 'beta2', 'epsilon'], 'options');
    this.learningRate = opts.learningRate === undefined ? 1e-3 : checkRate(opts.learningRate, 'options.learningRate');
    this.beta1 = opts.beta1 === undefined ? 0.9 : checkUnit(opts.beta1, 'options.beta1');
    this.beta2 = opts.beta2 === undefined ? 0.999 : checkUnit(opts.beta2, 'options.beta2');
    this.epsilon = opts.epsilon === undefined ? 1e-8 : checkRate(opts.epsilon, 'options.epsilon');
    this.rule = Object.freeze({
      kind: 'adam',
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
    });
  }
}

/**
 * The global L2 norm of all gradients.
 * @see [docs/training.md](../../../../docs/training.md)
 */
export function globalNorm(grads: readonly FloatArray[]): number {
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  return Math.sqrt(sum);
}

/**
 * Scales every gradient in place so that the global norm is at most maxNorm; returns the norm before.
 * @see [docs/training.md](../../../../docs/training.md)
 */
export function clipByGlobalNorm(grads: readonly FloatArray[], maxNorm: number): number {
  checkRate(maxNorm, 'maxNorm');
  const norm = globalNorm(grads);
  if (norm > maxNorm) {
    const scale = maxNorm / norm;
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= scale;
  }
  return norm;
}
