import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/preflight.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Files run in parallel; each one owns its database and queue names (see test/helpers).
    fileParallelism: true,
    maxWorkers: 2,
  },
});
