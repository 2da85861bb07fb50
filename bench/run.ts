/**
 * `npm run bench` runs every suite; `npm run bench -- <suite> ...` runs the ones named. Each suite prints
 * its figures next to a reference measured in the same run (see BENCHMARKS.md).
 */
const suites: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  limiter: () => import('./limiter.js'),
  throughput: () => import('./throughput.js'),
  console: () => import('./console.js'),
  fairness: () => import('./fairness.js'),
  'single-box': () => import('./single-box.js'),
};

const names = process.argv.slice(2);
const unknown = names.filter((n) => !(n in suites));
if (unknown.length > 0) {
  console.error(`unknown bench suite ${unknown.join(', ')}; suites: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
for (const name of names.length > 0 ? names : Object.keys(suites)) {
  console.log(`\n## ${name}\n`);
  const suite = await suites[name]!();
  await suite.run();
}
