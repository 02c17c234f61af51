import { inNode, nodeBuiltin } from './node-builtin.js';
import { ENTRY, JOB, JOB_BYTES } from './job.js';

/** Int32 slots of the control block the threads share; `sleepers` counts helpers in an untimed wait. */
const CTL = { generation: 0, done: 1, stop: 2, ready: 3, failed: 4, sleepers: 5 } as const;
export const CONTROL_BYTES = 8 * 4;

/**
 * A helper thread: its own instance of the kernel module over the same shared memory. Between jobs it spins for
 * `spinMs` (streamed steps arrive microseconds apart, far below a futex wake-up), then polls in timed waits that
 * grow from 0.1 ms to 1 ms, and after a second of idleness sleeps until notified. Timed waits, not notifications,
 * because Linux puts a thread woken by another on the waker's core: the helper would then compute on the same
 * core as the caller's thread while the other core idles. Plain script source, evaluated by Node's worker_threads
 * or a browser's Worker (from a Blob): no file to resolve, from src, dist or a bundle alike.
 */
const HELPER_LOOP = `
function helper({ module, memory, control, tid, stack, spinMs, job }) {
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
}
`;
// import(), not require: an eval'd worker is an ES module when its parent ran with --input-type=module
const NODE_HELPER = `${HELPER_LOOP}\nimport('node:worker_threads').then(({ workerData }) => helper(workerData));\n`;
const BROWSER_HELPER = `${HELPER_LOOP}\nself.onmessage = (event) => helper(event.data);\n`;

/** What the pool needs of a helper, in Node (worker_threads) and in browsers (Web Workers). */
interface Helper {
  readonly failed: Promise<never>;
  terminate(): Promise<unknown> | void;
}

/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
function mayBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** How long helpers may take to instantiate the module before the backend gives up on them. */
const START_TIMEOUT_MS = 30_000;

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
  readonly #workers: Helper[];
  readonly #ctl: Int32Array;
  /** false on a browser's main thread: waiting for the helpers is a spin there */
  readonly #mayBlock: boolean;
  #expectedDone = 0;

  private constructor(workers: Helper[], ctl: Int32Array) {
    this.#workers = workers;
    this.#ctl = ctl;
    this.#mayBlock = mayBlock();
  }

  /** Starts `stacks.length` helpers and waits until each has instantiated the module. */
  static async start(options: PoolOptions): Promise<ThreadPool> {
    const ctl = new Int32Array(options.memory.buffer, options.control, 8);
    const data = (i: number) => ({
      module: options.module,
      memory: options.memory,
      control: options.control,
      job: options.job,
      tid: i + 1,
      stack: options.stacks[i],
      spinMs: options.spinMs,
    });
    const workers = inNode() ? await nodeHelpers(options.stacks.length, data) : browserHelpers(options.stacks.length, data);
    let settled = false;
    const started = (async () => {
      const deadline = performance.now() + START_TIMEOUT_MS;
      while (!settled && Atomics.load(ctl, CTL.ready) < workers.length) {
        if (performance.now() > deadline) {
          throw new Error(
            `backend simd: ${workers.length - Atomics.load(ctl, CTL.ready)} helper thread(s) did not start within ${START_TIMEOUT_MS / 1000} s`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    try {
      await Promise.race([started, ...workers.map((w) => w.failed)]);
    } catch (error) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    } finally {
      settled = true; // the polling stops either way
    }
    // a helper that dies later (out of memory, terminated) must not leave thread 0 waiting at a barrier or for done
    const jobWords = new Int32Array(options.memory.buffer, options.job, JOB_BYTES / 4);
    for (const w of workers) {
      w.failed.catch(() => {
        Atomics.store(jobWords, JOB.abort, 1);
        Atomics.store(ctl, CTL.failed, 1);
      });
    }
    return new ThreadPool(workers, ctl);
  }

  /** Whether the caller's thread may block in Atomics.wait (not a browser's main thread). */
  get mayBlock(): boolean {
    return this.#mayBlock;
  }

  get size(): number {
    return this.#workers.length + 1;
  }

  /**
   * Wakes the helpers on the job (each runs `run(job, tid)` if its tid is below the job's thread count), runs
   * thread 0's share here, and returns when every helper has finished.
   */
  run(runHere: () => void): void {
    // after stop() the helpers are gone: a job would wait for them forever
    if (Atomics.load(this.#ctl, CTL.stop) !== 0) throw new Error('backend simd: closed (its helper threads are stopped)');
    if (Atomics.load(this.#ctl, CTL.failed) !== 0)
      throw new Error('backend simd: a helper thread failed; the backend cannot run more jobs');
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
      if (spins > 20_000 && this.#mayBlock) Atomics.wait(this.#ctl, CTL.done, done, 0.05); // timed: see HELPER_LOOP
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

async function nodeHelpers(count: number, data: (i: number) => object): Promise<Helper[]> {
  const { Worker } = await nodeBuiltin<typeof import('node:worker_threads')>('node:worker_threads');
  return made(count, (i) => {
    const worker = new Worker(NODE_HELPER, { eval: true, workerData: data(i) });
    worker.unref(); // idle helpers never keep the process alive
    let stopping = false;
    const failed = new Promise<never>((_, reject) => {
      worker.once('error', reject);
      worker.once('exit', (code) => stopping || reject(new Error(`backend simd: a helper thread exited (code ${code})`)));
    });
    failed.catch(() => undefined); // observed by start() and the pool; never an unhandled rejection
    return {
      failed,
      terminate: () => {
        stopping = true;
        return worker.terminate();
      },
    };
  });
}

/** `count` helpers from `make`; if one cannot be made, those already made are terminated before the error goes on. */
function made(count: number, make: (i: number) => Helper): Helper[] {
  const helpers: Helper[] = [];
  try {
    for (let i = 0; i < count; i++) helpers.push(make(i));
    return helpers;
  } catch (error) {
    for (const h of helpers) void h.terminate();
    throw error;
  }
}

/** Web Workers from one Blob; the module and the shared memory are posted (a cross-origin isolated page can). */
function browserHelpers(count: number, data: (i: number) => object): Helper[] {
  const url = URL.createObjectURL(new Blob([BROWSER_HELPER], { type: 'text/javascript' }));
  setTimeout(() => URL.revokeObjectURL(url), 60_000); // long after the Workers have loaded their script
  return made(count, (i) => {
    const worker = new Worker(url);
    const failed = new Promise<never>((_, reject) => {
      const why = (event: Event) =>
        (event as ErrorEvent).message || 'its script did not load (a Content-Security-Policy without worker-src blob:?)';
      worker.addEventListener('error', (event) => reject(new Error(`backend simd: a helper Worker failed: ${why(event)}`)));
      worker.addEventListener('messageerror', () =>
        reject(new Error('backend simd: a helper Worker could not receive the module and the memory')),
      );
    });
    failed.catch(() => undefined); // observed by start() and the pool; never an unhandled rejection
    worker.postMessage(data(i));
    return { failed, terminate: () => worker.terminate() };
  });
}
