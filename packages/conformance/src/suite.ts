import { getBackend, memory, ready } from '@recur/core';
import { CheckFailure, SkipCheck } from './compare.js';
import type { GoldenFixtures } from './fixtures.js';
import { behaviourChecks } from './checks/behaviour.js';
import { errorChecks } from './checks/errors.js';
import { goldenChecks } from './checks/golden.js';
import { goldenTrainingChecks } from './checks/golden-training.js';
import { gradientChecks } from './checks/gradients.js';
import { finiteDifferenceChecks } from './checks/finite-differences.js';
import { trainingKernelChecks } from './checks/training-kernels.js';
import { trainingChecks } from './checks/training.js';
import { trainingErrorChecks } from './checks/training-errors.js';
import { layoutChecks } from './checks/layouts.js';
import { reliabilityChecks } from './checks/reliability.js';
import { tokenChecks } from './checks/tokens.js';
import type { Check, CheckContext, Tolerances } from './checks/types.js';

/** A check's status. */
export type CheckStatus = 'pass' | 'fail' | 'skip' | 'n/a';

/** One check's outcome. */
export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  /** Failure details, or the reason for a skip or n/a. */
  readonly message?: string;
  /** A skip because the machine lacks hardware (a GPU): never fails a CI run. */
  readonly hardware?: boolean;
  readonly ms: number;
}

/** The golden README's tolerances for float32 backends. */
export const DEFAULT_TOLERANCES: Tolerances = { forward: 2e-5, gradient: 1e-4, chunked: 1e-6 };

/**
 * Every check, in a stable order: golden forward, golden gradients, behaviour, misuse errors.
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export function allChecks(fixtures: GoldenFixtures): Check[] {
  return [
    ...goldenChecks(fixtures),
    ...gradientChecks(fixtures),
    ...finiteDifferenceChecks(),
    ...goldenTrainingChecks(fixtures),
    ...trainingChecks(),
    ...behaviourChecks(),
    ...tokenChecks(),
    ...layoutChecks(),
    ...errorChecks(),
    ...trainingErrorChecks(),
    ...trainingKernelChecks(),
    ...reliabilityChecks(),
  ];
}

/**
 * Initialises the backend and returns the context checks run in.
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export async function contextFor(backend: string): Promise<CheckContext> {
  await ready(backend);
  const capabilities = getBackend(backend).capabilities;
  const tolerance = { ...DEFAULT_TOLERANCES, ...(capabilities.tolerance ?? {}) };
  return { backend, capabilities, tolerance };
}

/**
 * Runs one check; a check that leaves live tensors behind fails too.
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export async function runCheck(check: Check, ctx: CheckContext): Promise<CheckResult> {
  const base = { id: check.id, title: check.title };
  const na = check.notApplicable?.(ctx.capabilities, getBackend(ctx.backend));
  if (na) return { ...base, status: 'n/a', message: na, ms: 0 };
  const start = performance.now();
  const before = memory(ctx.backend);
  try {
    await check.run(ctx);
    const after = memory(ctx.backend);
    // only growth is a leak: fewer means the garbage collector freed a dropped cell's uploads meanwhile
    if (after.numTensors > before.numTensors || after.numBytes > before.numBytes) {
      throw new CheckFailure(
        `leak: ${after.numTensors - before.numTensors} tensors / ${after.numBytes - before.numBytes} bytes still live after the check`,
      );
    }
    return { ...base, status: 'pass', ms: performance.now() - start };
  } catch (error) {
    const ms = performance.now() - start;
    if (error instanceof SkipCheck) return { ...base, status: 'skip', message: error.reason, hardware: error.hardware, ms };
    const message =
      error instanceof CheckFailure
        ? error.message
        : `${error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error)}`;
    return { ...base, status: 'fail', message, ms };
  }
}

/** Options of `runSuite`. */
export interface SuiteOptions {
  readonly fixtures: GoldenFixtures;
  /** Only checks whose id contains one of these. */
  readonly filter?: readonly string[];
  /** Called after each check (the CLI's progress dots). */
  readonly onResult?: (result: CheckResult) => void;
}

/**
 * The checks whose id contains one of `filter` (all without one).
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export function selectChecks(fixtures: GoldenFixtures, filter?: readonly string[]): Check[] {
  const checks = allChecks(fixtures);
  return filter && filter.length ? checks.filter((c) => filter.some((f) => c.id.includes(f))) : checks;
}

/**
 * Runs the suite on one backend.
 * @see [docs/backend-authoring.md (proving a backend)](../../../docs/backend-authoring.md#proving-it)
 */
export async function runSuite(backend: string, options: SuiteOptions): Promise<CheckResult[]> {
  const ctx = await contextFor(backend);
  const results: CheckResult[] = [];
  for (const check of selectChecks(options.fixtures, options.filter)) {
    const result = await runCheck(check, ctx);
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}
