import type { Worker as NodeWorker } from 'node:worker_threads';
import { ENTRY, JOB, JOB_BYTES } from './job.js';

/** Int32 slots of the control block the threads share; `sleepers` counts helpers in an untimed wait. */
const CTL = { generation: 0, done: 1, stop: 2, ready: 3, failed: 4, sleepers: 5 } as const;
export const CONTROL_BYTES = 8 * 4;

/**
 * A helper thread: its own instance of the kernel module over the same shared memory. Between jobs it spins for
 * `spinMs` (streamed steps arrive microseconds apart, far below a futex wake-up), then polls in timed waits that
 * grow from 0.1 ms to 1 ms, and after a second of idleness sleeps until notified. Timed waits, not notifications,
 * because Linux puts a thread woken by another on the waker's core: the helper would then compute on the same
 * core as the caller's thread while the other core idles. Plain CommonJS, evaluated by worker_threads: no file
 * to resolve, from src or dist alike.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, tid, stack, spinMs, job } = workerData;
const instance = new WebAssembly.Instance(module, { env: { memory } });
instance.exports.__stack_pointer.value = stack;
const entries = ${JSON.stringify(ENTRY)}.map((name) => instance.exports[name]);
const ctl = new Int32Array(memory.buffer, control, 8);
const jobWords = new Int32Array(memory.buffer, job, ${JOB_BYTES / 4});
let seen = Atomics.load(ctl, ${CTL.generation});
Atomics.add(ctl, ${CTL.ready}, 1);
for (;;) {
  const idleSince = performance.now();
  for (let spins = 1; Atomics.load(ctl, ${CTL.generation}) === seen; spins++) {
    if ((spins & 1023) !== 0) continue;
    const idle = performance.now() - idleSince;
    if (idle < spinMs) continue;
    if (idle < 1000) {
      Atomics.wait(ctl, ${CTL.generation}, seen, idle < 20 ? 0.1 : 1);
    } else {
      Atomics.add(ctl, ${CTL.sleepers}, 1);
      Atomics.wait(ctl, ${CTL.generation}, seen);
      Atomics.sub(ctl, ${CTL.sleepers}, 1);
    }
  }
  seen = Atomics.load(ctl, ${CTL.generation});
  if (Atomics.load(ctl, ${CTL.stop}) !== 0) break;
  try {
    if (tid < jobWords[${JOB.nthreads}]) entries[jobWords[${JOB.kind}]](job, tid);
  } catch (error) {
    Atomics.store(jobWords, ${JOB.abort}, 1);
    Atomics.store(ctl, ${CTL.failed}, 1);
  }
  Atomics.add(ctl, ${CTL.done}, 1);
}
`;

export interface PoolOptions {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  /** Byte offsets in the shared memory. */
  readonly control: number;
  readonly job: number;
  readonly stacks: readonly number[];
  readonly spinMs: number;
}

/** The helper threads (the caller's thread is thread 0 and works too). */
export class ThreadPool {
  readonly #workers: NodeWorker[];
  readonly #ctl: Int32Array;
  #expectedDone = 0;

  private constructor(workers: NodeWorker[], ctl: Int32Array) {
    this.#workers = workers;
    this.#ctl = ctl;
  }

  /** Starts `stacks.length` helpers and waits until each has instantiated the module. */
  static async start(options: PoolOptions): Promise<ThreadPool> {
    const { Worker } = await import('node:worker_threads');
    const ctl = new Int32Array(options.memory.buffer, options.control, 8);
    const workers = options.stacks.map((stack, i) => {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          module: options.module,
          memory: options.memory,
          control: options.control,
          job: options.job,
          tid: i + 1,
          stack,
          spinMs: options.spinMs,
        },
      });
      worker.unref(); // idle helpers never keep the process alive
      return worker;
    });
    const failures = workers.map((w) => new Promise<never>((_, reject) => w.once('error', reject)));
    const started = (async () => {
      while (Atomics.load(ctl, CTL.ready) < workers.length) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    try {
      await Promise.race([started, ...failures]);
    } catch (error) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    }
    return new ThreadPool(workers, ctl);
  }

  get size(): number {
    return this.#workers.length + 1;
  }

  /**
   * Wakes the helpers on the job (each runs `run(job, tid)` if its tid is below the job's thread count), runs
   * thread 0's share here, and returns when every helper has finished.
   */
  run(runHere: () => void): void {
    Atomics.add(this.#ctl, CTL.generation, 1);
    // only a helper idle for over a second sleeps untimed (it raised `sleepers` before its wait: no lost wake-up)
    if (Atomics.load(this.#ctl, CTL.sleepers) !== 0) Atomics.notify(this.#ctl, CTL.generation);
    this.#expectedDone += this.#workers.length;
    let trapped: unknown = null;
    try {
      runHere();
    } catch (error) {
      trapped = error;
    }
    // the helpers finish with the job's last barrier; wait for their return so the next job may rewrite it.
    // Spin first (it is a matter of nanoseconds), then sleep: a helper descheduled right there needs this core.
    for (let spins = 0; ; spins++) {
      const done = Atomics.load(this.#ctl, CTL.done);
      if (done >= this.#expectedDone || Atomics.load(this.#ctl, CTL.failed) !== 0) break;
      if (spins > 20_000) Atomics.wait(this.#ctl, CTL.done, done, 0.05); // timed: see WORKER_SOURCE
    }
    if (trapped !== null) throw trapped;
    if (Atomics.load(this.#ctl, CTL.failed) !== 0)
      throw new Error('backend simd: a kernel thread trapped; the backend cannot run more jobs');
  }

  async stop(): Promise<void> {
    Atomics.store(this.#ctl, CTL.stop, 1);
    Atomics.add(this.#ctl, CTL.generation, 1);
    Atomics.notify(this.#ctl, CTL.generation);
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
