import '../src/index.js';
import { describeConformance } from '@recur/conformance/vitest';

// The whole shared suite on the SIMD kernels (two or more threads on this machine), one vitest test per check id.
await describeConformance('simd');
