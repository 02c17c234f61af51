import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BenchCase } from '../cases.js';
import type { CaseData, Contender, Gradients, Prepared, SelfTimed } from './types.js';

/** Debian's python3-torch is built for the system interpreter; `python3` on PATH may be another one without torch. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../../python/torch_peer.py', import.meta.url));
/** torch's intra-op threads: this machine's 2 cores, as the measurements; OpenBLAS itself single-threaded. */
export const TORCH_THREADS = 2;

const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const floats = (s: string) => {
  const bytes = Buffer.from(s, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

/** The persistent Python process: one JSON request a line, one reply a line, in order. */
class TorchProcess {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: ((line: string) => void)[] = [];
  #stderr = '';
  #exited: string | null = null;

  constructor() {
    this.#child = spawn(PYTHON, [SCRIPT], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: String(TORCH_THREADS) },
      stdio: 'pipe',
    });
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#waiting.shift()?.(line));
    this.#child.stderr.on('data', (d) => (this.#stderr = (this.#stderr + String(d)).slice(-2000)));
    this.#child.on('exit', (code) => {
      this.#exited = `exited with ${code}: ${this.#stderr.trim().split('\n').slice(-2).join(' | ')}`;
      for (const w of this.#waiting.splice(0)) w(JSON.stringify({ ok: false, error: this.#exited }));
    });
    this.#child.on('error', (e) => (this.#exited = e.message));
  }

  async request<T = Record<string, unknown>>(req: Record<string, unknown>): Promise<T> {
    if (this.#exited) throw new Error(`the PyTorch peer ${this.#exited}`);
    const line = await new Promise<string>((resolve) => {
      this.#waiting.push(resolve);
      this.#child.stdin.write(`${JSON.stringify(req)}\n`);
    });
    const reply = JSON.parse(line) as { ok: boolean; error?: string };
    if (!reply.ok) throw new Error(`PyTorch peer: ${reply.error}`);
    return reply as T;
  }

  close(): void {
    this.#child.stdin.end();
  }
}

export interface TorchInfo {
  readonly torch: string;
  readonly threads: number;
  readonly openblasThreads: string;
  readonly blas: string;
}

let shared: { process: TorchProcess; info: TorchInfo } | null = null;
let unavailable: string | null = null;

/** Starts the peer once (null with the reason in `torchUnavailable()` if PyTorch is not installed). */
export async function startTorch(): Promise<TorchInfo | null> {
  if (shared) return shared.info;
  if (unavailable) return null;
  if (!existsSync(PYTHON)) {
    unavailable = `${PYTHON} not found`;
    return null;
  }
  const process = new TorchProcess();
  try {
    const info = await process.request<TorchInfo>({ op: 'hello', threads: TORCH_THREADS });
    shared = { process, info };
    return info;
  } catch (error) {
    unavailable = `PyTorch not available (${(error as Error).message.slice(0, 160)}): scripts/install-system-deps.sh installs Debian's python3-torch and libopenblas0-pthread`;
    process.close();
    return null;
  }
}

export const torchUnavailable = (): string | null => unavailable;

export function stopTorch(): void {
  shared?.process.close();
  shared = null;
}

/**
 * PyTorch on the CPU (torch.nn.LSTM / GRU, batch_first) in a persistent /usr/bin/python3 process, on the same
 * weights and inputs; every run timed inside Python. GRU is reset-after only there.
 */
export function torchContender(): Contender {
  return {
    name: 'torch-cpu',
    role: 'peer',
    skip: (c: BenchCase) =>
      unavailable ??
      (!shared
        ? 'PyTorch peer not started'
        : c.cell === 'gru' && !c.resetAfter
          ? "torch.nn.GRU has no reset-before variant (TF1's)"
          : null),
    async prepare(c: BenchCase, { weights, x, model }: CaseData): Promise<Prepared> {
      const torch = shared!.process;
      const layer = (w: CaseData['weights']) => ({ wIh: b64(w.wIh), wHh: b64(w.wHh), bIh: b64(w.bIh), bHh: b64(w.bHh) });
      await torch.request({
        op: 'prepare',
        case: { cell: c.cell, mode: c.mode, H: c.H, B: c.B, T: c.T },
        weights: layer(weights),
        x: b64(x),
        ...(model
          ? {
              model: {
                ...c.model,
                weights: model.layers.map(layer),
                headWeight: b64(model.headWeight),
                headBias: b64(model.headBias),
                targets: Array.from(model.targets),
              },
            }
          : {}),
      });
      if (c.mode === 'model') {
        return {
          run: async (): Promise<SelfTimed> => ({ selfTimedMs: (await torch.request<{ ms: number }>({ op: 'run' })).ms }),
          firstStep: () => torch.request<{ loss: number; gradNorm: number }>({ op: 'first' }),
          dispose: () => void torch.request({ op: 'release' }).catch(() => {}),
        };
      }
      return {
        run: async (): Promise<SelfTimed> => ({ selfTimedMs: (await torch.request<{ ms: number }>({ op: 'run' })).ms }),
        outputs: c.mode === 'training' ? undefined : async () => floats((await torch.request<{ y: string }>({ op: 'outputs' })).y),
        gradients:
          c.mode === 'training'
            ? async () => {
                const g = await torch.request<Record<keyof Gradients, string>>({ op: 'gradients' });
                return {
                  dx: floats(g.dx),
                  dh0: floats(g.dh0),
                  wIh: floats(g.wIh),
                  wHh: floats(g.wHh),
                  bIh: floats(g.bIh),
                  bHh: floats(g.bHh),
                };
              }
            : undefined,
        dispose: () => void torch.request({ op: 'release' }).catch(() => {}),
      };
    },
  };
}
