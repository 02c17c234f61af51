// Recur in the browser: a backend picked by the visitor (each one's availability and reason shown), the demo's
// char-LSTM loaded from its safetensors file, two streams in one batch generating one character per call with the
// state carried, per-step latency, resets, and the top layer's hidden state as a heatmap.
import { registerCpuBackend } from '@recur/backend-cpu';
import { registerGpujsBackend } from '@recur/backend-gpujs';
import '@recur/backend-simd'; // its kernels: found by Vite through new URL(..., import.meta.url) and emitted as assets
import { setWasmPaths } from '@recur/backend-wasm';
import { RnnModel, StatefulRNN, getBackend, listBackends, ready, seededRandom, tokenIds, type BackendInfo } from '@recur/core';

const BACKENDS = ['cpu', 'wasm', 'simd', 'gpujs'] as const;
const PRIMES = ['Call me Ishmael. ', 'The whale '];
const TEMPERATURE = 0.8;
const STEPS_SHOWN = 96;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (text: string, error = false) => {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
};

// ?break=wasm points tfjs-backend-wasm at a folder that does not exist: how a backend that fails to start looks
const params = new URLSearchParams(location.search);
setWasmPaths(params.get('break') === 'wasm' ? './no-such-folder/' : './wasm/');
registerCpuBackend();
registerGpujsBackend();

interface Session {
  readonly backend: string;
  readonly model: RnnModel;
  readonly rnn: StatefulRNN;
  readonly vocabulary: readonly string[];
  /** The next input of each stream. */
  next: number[];
  texts: string[];
  heat: Float32Array[];
  latencies: number[];
  /** Generation calls made (the latencies are trimmed). */
  calls: number;
}

let session: Session | null = null;
let running = false;
/** Bumped by each start of the loop and each backend selection: what is outdated stops. */
let loops = 0;
let selection = 0;
let sentenceResets = 0;
let lastResetNorm = -1;

/** The sum of |h| (and |c|) of one stream of a session over every layer. */
async function rowNorm(s: Session, row: number): Promise<number> {
  let sum = 0;
  for (const layer of await s.rnn.readState()) {
    const H = layer.h.length / PRIMES.length;
    for (const v of layer.h.subarray(row * H, (row + 1) * H)) sum += Math.abs(v);
    if (layer.c) for (const v of layer.c.subarray(row * H, (row + 1) * H)) sum += Math.abs(v);
  }
  return sum;
}
let modelBytes: Uint8Array | null = null;

async function model(): Promise<Uint8Array> {
  if (!modelBytes) {
    const response = await fetch('./char-lstm.safetensors');
    if (!response.ok) throw new Error(`char-lstm.safetensors: HTTP ${response.status}`);
    modelBytes = new Uint8Array(await response.arrayBuffer());
  }
  return modelBytes;
}

/** Softmax of logits / temperature. */
function softmax(logits: ArrayLike<number>, temperature = 1): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] / temperature);
  const p = Float64Array.from(logits, (v) => Math.exp(v / temperature - max));
  const sum = p.reduce((a, b) => a + b, 0);
  return p.map((v) => v / sum);
}

const random = seededRandom(7);
function sample(logits: ArrayLike<number>): number {
  const p = softmax(logits, TEMPERATURE);
  let u = random();
  for (let i = 0; i < p.length; i++) if ((u -= p[i]) <= 0) return i;
  return p.length - 1;
}

/** One call: both streams advance one character; returns the logits per stream. */
async function step(s: Session): Promise<Float32Array[]> {
  const V = s.vocabulary.length;
  const y = s.rnn.run(tokenIds(s.next, [s.next.length, 1], V));
  try {
    const logits = s.model.head.forward(await y.data(), s.next.length) as Float32Array;
    return s.next.map((_, row) => logits.slice(row * V, (row + 1) * V));
  } finally {
    y.dispose();
  }
}

/** A session on `backend`; null if another selection overtook this one meanwhile (its objects are then disposed). */
async function open(backend: string, token: number): Promise<Session | null> {
  close();
  await ready(backend);
  const bytes = await model();
  if (token !== selection) return null;
  const m = RnnModel.fromSafetensors(bytes, { backend });
  const vocabulary = (m.config.meta as { vocabulary: string[] }).vocabulary;
  const rnn = new StatefulRNN(m.cell, { batch: PRIMES.length });
  const s: Session = { backend, model: m, rnn, vocabulary, next: [], texts: [...PRIMES], heat: [], latencies: [], calls: 0 };
  try {
    await prime(s);
  } catch (error) {
    rnn.dispose();
    m.dispose();
    throw error;
  }
  if (token !== selection) {
    rnn.dispose();
    m.dispose();
    return null;
  }
  return s;
}

/** Feeds each stream its priming text (padded on the left with spaces to one length), the state carried. */
async function prime(s: Session): Promise<void> {
  const index = new Map(s.vocabulary.map((c, i) => [c, i]));
  const width = Math.max(...PRIMES.map((p) => p.length));
  const padded = PRIMES.map((p) => p.padStart(width, ' '));
  for (let t = 0; t < width - 1; t++) {
    s.next = padded.map((p) => index.get(p[t]) ?? 0);
    await step(s);
  }
  s.next = padded.map((p) => index.get(p[width - 1]) ?? 0);
}

function close(): void {
  if (!session) return;
  session.rnn.dispose();
  session.model.dispose();
  session = null;
}

/** One generation step of the loop `loop` (a newer loop, a stop or another session ends it). */
async function tick(loop: number): Promise<void> {
  const s = session;
  if (!s) return;
  const current = () => session === s && running && loop === loops;
  if (!current()) return;
  const started = performance.now();
  const logits = await step(s);
  const took = performance.now() - started;
  if (!current()) return;
  s.latencies.push(took);
  if (s.latencies.length > 200) s.latencies.splice(0, 100);
  const state = await s.rnn.readState();
  if (!current()) return;
  const top = state[state.length - 1].h;
  const H = top.length / PRIMES.length;
  s.heat.push(Float32Array.from(top.subarray(0, H)));
  if (s.heat.length > STEPS_SHOWN) s.heat.shift();
  s.next = logits.map((l) => sample(l));
  const resetRows: number[] = [];
  s.next.forEach((id, row) => {
    const c = s.vocabulary[id];
    s.texts[row] = (s.texts[row] + c).slice(-2000);
    if ($<HTMLInputElement>('sentence-reset').checked && /[.!?]/.test(c)) {
      s.rnn.reset([row]);
      s.texts[row] += ' ⟲ ';
      resetRows.push(row);
    }
  });
  if (resetRows.length) {
    sentenceResets += resetRows.length;
    lastResetNorm = await rowNorm(s, resetRows[0]); // what the reset left: zero
    if (!current()) return;
  }
  s.calls++;
  render(s);
  setTimeout(() => void tick(loop).catch(fail), 0);
}

/** Starts or stops generating (a new loop each start: a stopped loop's pending step finds itself outdated). */
function setRunning(on: boolean): void {
  running = on;
  $('run').textContent = on ? 'Stop' : 'Start';
  if (on) {
    const loop = ++loops;
    void tick(loop).catch(fail);
  }
}

function render(s: Session): void {
  s.texts.forEach((t, row) => ($(`text-${row}`).textContent = t.slice(-600)));
  const recent = s.latencies.slice(-50).sort((a, b) => a - b);
  const median = recent[recent.length >> 1] ?? 0;
  $('latency').textContent = `${s.backend}: ${median.toFixed(2)} ms per call (median of the last ${recent.length}), ${s.calls} calls`;
  const canvas = $<HTMLCanvasElement>('heatmap');
  const H = s.heat[0]?.length ?? 0;
  if (!H) return;
  canvas.width = STEPS_SHOWN;
  canvas.height = H;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(STEPS_SHOWN, H);
  s.heat.forEach((column, i) => {
    const x = STEPS_SHOWN - s.heat.length + i;
    for (let u = 0; u < H; u++) {
      const v = Math.max(-1, Math.min(1, column[u]));
      const at = (u * STEPS_SHOWN + x) * 4;
      image.data[at] = v > 0 ? 255 : Math.round(255 * (1 + v));
      image.data[at + 1] = Math.round(255 * (1 - Math.abs(v)));
      image.data[at + 2] = v < 0 ? 255 : Math.round(255 * (1 - v));
      image.data[at + 3] = 255;
    }
  });
  ctx.putImageData(image, 0, 0);
}

function fail(error: unknown): void {
  setRunning(false);
  $<HTMLButtonElement>('run').disabled = session === null;
  $<HTMLButtonElement>('reset').disabled = session === null;
  status(`error: ${error instanceof Error ? error.message : String(error)}`, true);
}

async function select(backend: string): Promise<void> {
  const token = ++selection;
  setRunning(false);
  $<HTMLButtonElement>('run').disabled = true;
  $<HTMLButtonElement>('reset').disabled = true;
  status(`loading the model on ${backend}…`);
  try {
    const opened = await open(backend, token);
    if (!opened) return; // another backend was picked meanwhile
    session = opened;
    session.texts.forEach((t, row) => ($(`text-${row}`).textContent = t));
    $<HTMLButtonElement>('run').disabled = false;
    $<HTMLButtonElement>('reset').disabled = false;
    status(
      `ready on ${backend}: ${session.vocabulary.length} characters, ${session.model.config.layers.map((l) => `${l.kind} ${l.units}`).join(' + ')}`,
    );
  } catch (error) {
    if (token === selection) fail(error);
  }
}

async function showBackends(): Promise<BackendInfo[]> {
  const all = await listBackends();
  const infos = BACKENDS.flatMap((name) => all.filter((b) => b.name === name)); // in the page's order
  const list = $('backend-list');
  list.textContent = '';
  for (const name of BACKENDS) {
    const info = infos.find((b) => b.name === name);
    const label = document.createElement('label');
    label.dataset.backend = name;
    const input = document.createElement('input');
    Object.assign(input, { type: 'radio', name: 'backend', value: name, disabled: !info?.available });
    input.addEventListener('change', () => void select(name));
    const detail = document.createElement('span');
    detail.className = 'reason';
    detail.textContent = info?.available ? (info.runsOn ?? 'available') : `unavailable: ${info?.reason ?? 'not registered'}`;
    label.classList.toggle('unavailable', !info?.available);
    label.append(input, ` ${name}`, detail);
    list.append(label);
  }
  return infos;
}

$('run').addEventListener('click', () => setRunning(!running));
$('reset').addEventListener('click', () => {
  if (!session) return;
  session.rnn.reset();
  session.texts = session.texts.map((t) => `${t} ⟲ `);
  render(session);
});

/** What the browser test drives (and a person may use from the console). */
const api = {
  ready: (async () => {
    const infos = await showBackends();
    const first = infos.find((b) => b.available);
    if (first) {
      $<HTMLInputElement>(`backend-list`).querySelector<HTMLInputElement>(`input[value="${first.name}"]`)!.checked = true;
      await select(first.name);
    } else status('no backend could start here', true);
    return infos.map(({ name, available, reason, runsOn }) => ({ name, available, reason, runsOn }));
  })(),
  async select(name: string) {
    $('backend-list').querySelector<HTMLInputElement>(`input[value="${name}"]`)!.checked = true;
    await select(name);
    return session?.backend ?? null;
  },
  /** The next-character probabilities after `text`, from a fresh state, on the selected backend. */
  async probabilities(text: string): Promise<number[]> {
    const s = session!;
    const index = new Map(s.vocabulary.map((c, i) => [c, i]));
    const rnn = new StatefulRNN(s.model.cell, { batch: 1 });
    try {
      const y = rnn.run(
        tokenIds(
          Array.from(text, (c) => index.get(c) ?? 0),
          [1, text.length],
          s.vocabulary.length,
        ),
      );
      try {
        const all = await y.data();
        const H = all.length / text.length;
        return Array.from(softmax(s.model.head.forward(all.slice(-H), 1)));
      } finally {
        y.dispose();
      }
    } finally {
      rnn.dispose();
    }
  },
  texts: () => session?.texts ?? [],
  calls: () => session?.calls ?? 0,
  /** Streams reset at a sentence end so far (the toggle). */
  sentenceResets: () => sentenceResets,
  /** The sum of |h| (and |c|) of one stream over every layer. */
  rowNorm: (row: number) => (session ? rowNorm(session, row) : Promise.resolve(0)),
  /** That sum for the stream of the last sentence reset, read right after it. */
  lastResetNorm: () => lastResetNorm,
  /** The status line, and whether it is an error. */
  status: () => ({ text: $('status').textContent ?? '', error: $('status').classList.contains('error') }),
  /** The threads backend-simd's last job ran on (its lastJobThreads), or null on other backends. */
  lastJobThreads: () => (session ? ((getBackend(session.backend) as { lastJobThreads?: number }).lastJobThreads ?? null) : null),
  heatColumns: () => session?.heat.length ?? 0,
  /** The sum of |h| (and |c|) over every layer and stream: 0 right after a reset. */
  async stateNorm(): Promise<number> {
    const s = session;
    if (!s) return 0;
    const rows = await Promise.all(PRIMES.map((_, row) => rowNorm(s, row)));
    return rows.reduce((a, b) => a + b, 0);
  },
};
(window as unknown as { recurWeb: typeof api }).recurWeb = api;
api.ready.catch(fail);
