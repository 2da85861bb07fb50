#!/usr/bin/env node
// The `cams-enrich` executable: runs the CLI, then exits once stdout has drained.
import { runCli } from './main.js';

// A reader that stops early (`cams-enrich status | head`) closes the pipe: that is not a failure of
// ours, so end quietly instead of dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

const code = await runCli(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`cams-enrich: ${String(err)}\n`);
  return 1;
});
process.stdout.write('', () => process.exit(code));
