import '../src/index.js';
import { describeConformance } from '@recur/conformance/vitest';

// The whole shared suite in Node, one vitest test per check id: the same ids the browser page reports.
await describeConformance('wasm');
