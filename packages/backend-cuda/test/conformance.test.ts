// The whole conformance suite on backend-cuda. Without an NVIDIA GPU (CI) every check is skipped, each title saying
// why ("no hardware: ..."); on a GPU machine they run (scripts/gpu-check.mjs runs them there with the benchmark).
import { describeConformance } from '@recur/conformance/vitest';
import '../src/index.js';

await describeConformance('cuda', process.env.RECUR_CHECKS ? { filter: process.env.RECUR_CHECKS.split(',') } : {});
