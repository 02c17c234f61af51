import { listBackends } from '@recur/core';

/**
 * The demo's default: the fastest backend this machine has for training a character model, in this order. GPU
 * backends count only on real hardware (a software renderer such as SwiftShader reports itself unavailable or
 * lacking hardware, and is passed over); among the CPU-side ones backend-simd runs its forwards on every core,
 * backend-cpu is the same for training and slower for evaluation, backend-wasm (tfjs ops) is the slowest here.
 */
export const PREFERENCE = ['cuda', 'gpujs', 'simd', 'cpu', 'wasm'] as const;

/** Registers every backend package that is installed (the GPU ones are optional) and picks one. */
export async function pickBackend(requested: string | undefined): Promise<{ name: string; why: string }> {
  await import('@recur/backend-cpu');
  await import('@recur/backend-simd');
  for (const pkg of ['@recur/backend-cuda', '@recur/backend-gpujs']) {
    await import(pkg).catch(() => {}); // not installed here: not a candidate (backend-wasm is slower than both CPU-side ones for training)
  }
  const infos = await listBackends();
  if (requested !== undefined) {
    const info = infos.find((b) => b.name === requested);
    if (!info) throw new Error(`--backend ${requested}: not registered here (registered: ${infos.map((b) => b.name).join(', ')})`);
    if (!info.available) throw new Error(`--backend ${requested}: unavailable: ${info.reason}`);
    return { name: requested, why: 'chosen with --backend' };
  }
  const usable = infos.filter((b) => b.available && !b.missingHardware);
  const name = PREFERENCE.find((p) => usable.some((b) => b.name === p)) ?? usable[0]?.name;
  if (!name) throw new Error('no backend is available');
  const skipped = infos.filter(
    (b) =>
      !b.available && PREFERENCE.indexOf(b.name as (typeof PREFERENCE)[number]) < PREFERENCE.indexOf(name as (typeof PREFERENCE)[number]),
  );
  return {
    name,
    why: `the fastest available (preference ${PREFERENCE.join(' > ')}${skipped.length ? `; unavailable: ${skipped.map((b) => `${b.name} (${b.reason})`).join(', ')}` : ''}; --backend chooses another)`,
  };
}
