#!/usr/bin/env node
// The `cams-enrich` executable: runs the CLI, then exits once stdout has drained.
import { runCli } from './main.js';

const code = await runCli(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`cams-enrich: ${String(err)}\n`);
  return 1;
});
process.stdout.write('', () => process.exit(code));
