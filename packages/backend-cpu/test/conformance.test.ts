import '../src/index.js';
import { describeConformance } from '@recur/conformance/vitest';

// The whole shared suite, one vitest test per check id: the same ids as `recur-conformance --backend cpu`.
await describeConformance('cpu');
