import type { Capabilities, RecurBackend } from '@recur/core';

/** Per-element tolerances: forward, gradient (relative), chunked against one-shot. */
export interface Tolerances {
  /** Forward outputs and states against the golden vectors: |a - ref|. */
  readonly forward: number;
  /** Gradients: |a - ref| / max(1, |ref|). */
  readonly gradient: number;
  /** Chunked against one-shot on the same backend. */
  readonly chunked: number;
}

/** What a check runs with: the backend, its capabilities and the tolerances. */
export interface CheckContext {
  /** Name of the backend under test (registered and ready). */
  readonly backend: string;
  readonly capabilities: Capabilities;
  readonly tolerance: Tolerances;
}

/** A conformance check: a plain function with a stable id; throws CheckFailure, SkipCheck or NotApplicable. */
export interface Check {
  readonly id: string;
  readonly title: string;
  /** Why the check does not apply to a backend with these capabilities (e.g. no float64) or optional members, or null. */
  readonly notApplicable?: (capabilities: Capabilities, backend: RecurBackend) => string | null;
  /** Runs the check; throws a `CheckFailure` (or `SkipCheck`) to say why it did not pass. */
  run(ctx: CheckContext): void | Promise<void>;
}
