import { SPEC_VERSION, listBackends, registerBackend, type FloatArray, type RecurBackend } from '@recur/core';

export const STUB_BACKEND = 'conformance-stub';
export const UNAVAILABLE_BACKEND = 'conformance-unavailable';
export const UNAVAILABLE_REASON = 'the conformance suite registers it unavailable on purpose';

/** A second backend that holds tensors but runs no cell kind: for the mixing and capability misuse checks. */
function stub(): RecurBackend {
  const live = new Set<{ data: FloatArray }>();
  const wrap = (data: FloatArray) => {
    const s = { data };
    live.add(s);
    return s;
  };
  const refuse = () => {
    throw new Error('conformance-stub runs no kernels');
  };
  return {
    specVersion: SPEC_VERSION,
    name: STUB_BACKEND,
    capabilities: { cells: [], dtypes: ['float32'], training: false, syncRead: true },
    available: () => ({ available: true }),
    upload: (values) => wrap(Float32Array.from(values)),
    zeros: (shape) => wrap(new Float32Array(shape.reduce((a, b) => a * b, 1))),
    read: async (s) => (s as { data: FloatArray }).data.slice(),
    readSync: (s) => (s as { data: FloatArray }).data.slice(),
    dispose: (s) => void live.delete(s as { data: FloatArray }),
    memory: () => ({ numTensors: live.size, numBytes: [...live].reduce((a, s) => a + s.data.byteLength, 0) }),
    uploadWeights: refuse,
    disposeWeights: () => {},
    forward: refuse,
    transpose01: refuse,
    zeroRows: refuse,
    gatherRows: refuse,
    concatRows: refuse,
    allFinite: () => true,
  };
}

let registered = false;

/** Registers the stub and an unavailable backend once per process (they never become the default: priority -1000). */
export async function ensureStubBackends(): Promise<void> {
  if (registered) return;
  registered = true;
  const names = new Set((await listBackends()).map((b) => b.name));
  if (!names.has(STUB_BACKEND)) registerBackend(STUB_BACKEND, stub, -1000);
  if (!names.has(UNAVAILABLE_BACKEND)) {
    registerBackend(
      UNAVAILABLE_BACKEND,
      () => ({ ...stub(), name: UNAVAILABLE_BACKEND, available: () => ({ available: false, reason: UNAVAILABLE_REASON }) }),
      -1000,
    );
  }
}
