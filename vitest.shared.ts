import { defineConfig } from 'vitest/config';

/** The vitest settings every package shares: tests in test/, a JSON report that scripts/test-summary.mjs sums. */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
