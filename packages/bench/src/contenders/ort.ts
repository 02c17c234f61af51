import * as ort from 'onnxruntime-node';
import { ortContenderOf } from './ort-common.js';
import type { Contender } from './types.js';

export { timeMajor } from './ort-common.js';

/** onnxruntime-node's CPU provider with a given number of intra-op threads. */
export function ortContender(threads: number): Contender {
  return ortContenderOf(ort, `ort-${threads}t`, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}
