import { registerBackend } from '@recur/core';
import { describeConformance } from '@recur/conformance/vitest';
import { GpujsBackend } from '../src/backend.js';

registerBackend('gpujs', () => new GpujsBackend('gpujs'), -1000);
await describeConformance('gpujs', process.env.RECUR_CHECKS ? { filter: process.env.RECUR_CHECKS.split(',') } : {});
