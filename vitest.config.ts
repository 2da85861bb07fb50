import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { SkipReporter, describeSkipped, unmetRequirements } from './test/helpers/requirements.js';

export default defineConfig(async () => {
  const root = fileURLToPath(new URL('.', import.meta.url));
  // Files that need what this machine lacks (Redis, a browser, PgBouncer) are left out, saying why;
  // in CI nothing may be left out.
  const skipped = await unmetRequirements(root, process.env);
  if (skipped.length > 0 && process.env.CI === 'true') {
    throw new Error(`CI runs every test file, but ${describeSkipped(skipped).join('; ')}`);
  }
  for (const line of describeSkipped(skipped)) process.stderr.write(`${line}\n`);

  return {
    test: {
      include: ['test/**/*.test.ts'],
      exclude: ['**/node_modules/**', ...skipped.flatMap((s) => s.files)],
      globalSetup: ['test/helpers/preflight.ts'],
      // Without Redis, the pipelines of the files that run put their queue on PostgreSQL.
      env: skipped.some((s) => s.redis) ? { CAMS_TEST_QUEUE_STORE: 'postgres' } : {},
      reporters: ['default', new SkipReporter(skipped)],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      // Files run in parallel; each one owns its database and queue names (see test/helpers). Three at
      // a time even on two cores: most files spend their time waiting (on the simulator's rate limit,
      // on the processes they start, on the servers), not computing.
      fileParallelism: true,
      maxWorkers: 3,
    },
  };
});
