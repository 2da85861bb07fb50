/**
 * What every console page shares: the document around a page's own markup and script, the header with
 * the pages' links, the style (light or dark as the system says), and the client helpers of
 * `page-client.ts` and `page-chart.ts`. Pages are static documents; their scripts read the JSON API and
 * insert values as text, never as HTML. No framework, no build step, no external asset.
 */
import { CHART_SCRIPT } from './page-chart.js';
import { CLIENT_SCRIPT } from './page-client.js';

export type ConsolePageName = 'runs' | 'run' | 'schedules' | 'fleet';

export interface ConsolePage {
  title: string;
  active: ConsolePageName;
  /** The path back to the dashboard's root from this page (`''` at `/`, `'../'` at `/runs/7`). */
  root: string;
  /** The page's markup inside `<main>`. */
  main: string;
  /** The page's own script, run after the shared helpers. */
  script: string;
}

const STYLE = `
  :root { color-scheme: light dark; --bg: #f4f6f9; --fg: #1d2330; --card: #fff; --muted: #667085; --line: #e3e7ee;
    --head: #1d2330; --link: #1f5fbf; --ok: #2e9e5b; --bad: #d9534f; --info: #5b9bd5; --dup: #9e7cc1; --warn: #c9a227;
    --gray: #777; --series1: #2e6fd9; --series2: #d9534f; --series3: #2e9e5b; --quota: #c0392b; }
  @media (prefers-color-scheme: dark) {
    :root { --bg: #14171d; --fg: #e4e7ec; --card: #1e232b; --muted: #98a2b3; --line: #343b46; --head: #0b0d11;
      --link: #8ab4ff; --series1: #6ea8ff; --series2: #ff7a73; --series3: #4fd18b; --quota: #ff8a80; }
  }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: var(--fg); background: var(--bg); }
  a { color: var(--link); }
  header { background: var(--head); color: #fff; padding: 10px 20px; display: flex; gap: 18px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header a { color: #9cc3ff; text-decoration: none; }
  header a.active { color: #fff; font-weight: 600; border-bottom: 2px solid #9cc3ff; }
  header .right { margin-left: auto; color: #c5cbd6; }
  main { padding: 16px 20px; max-width: 1240px; }
  h2 { font-size: 16px; margin: 0 0 6px; }
  .card { background: var(--card); border-radius: 6px; padding: 12px 16px; margin-bottom: 14px; box-shadow: 0 1px 2px #0002; }
  .banner { border-left: 5px solid var(--ok); }
  .banner.paused { border-left-color: var(--bad); }
  .bar { display: flex; height: 14px; border-radius: 4px; overflow: hidden; background: var(--line); margin: 4px 0; min-width: 120px; }
  .bar span { display: block; height: 100%; }
  .enriched { background: var(--ok); } .failed { background: var(--bad); } .skipped { background: var(--info); }
  .duplicate { background: var(--dup); } .invalid { background: var(--warn); } .cancelled { background: var(--gray); }
  .legend span { margin-right: 12px; white-space: nowrap; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
  .muted { color: var(--muted); }
  .phase { font-weight: 600; }
  .phase-running, .phase-importing { color: var(--series1); } .phase-finished { color: var(--ok); }
  .phase-aborted { color: var(--bad); } .phase-cancelled { color: var(--gray); }
  table { border-collapse: collapse; width: 100%; }
  td, th { padding: 4px 8px 4px 0; text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); }
  th { font-weight: 600; color: var(--muted); white-space: nowrap; }
  td.num, th.num { text-align: right; }
  table.kv td:first-child { color: var(--muted); width: 180px; }
  form.filters { display: flex; gap: 12px; flex-wrap: wrap; align-items: end; }
  form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
  input, select, button { font: inherit; padding: 3px 8px; color: var(--fg); background: var(--card); border: 1px solid var(--line); border-radius: 4px; }
  button { cursor: pointer; }
  button:disabled { cursor: not-allowed; opacity: .55; }
  .actions { display: flex; gap: 10px; flex-wrap: wrap; align-items: center; }
  .pager { display: flex; gap: 10px; align-items: center; margin-top: 8px; }
  .grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
  .message { margin-top: 6px; }
  .message.error { color: var(--bad); }
  svg.chart { width: 100%; height: auto; display: block; }
  svg.chart text { font-size: 12px; fill: var(--muted); }
  svg.chart .axis { stroke: var(--muted); }
  svg.chart .grid { stroke: var(--line); }
  svg.chart .tip rect { fill: var(--card); stroke: var(--muted); }
  svg.chart .tip text { fill: var(--fg); }
`;

const NAV: Array<[ConsolePageName | 'queues' | 'metrics', string, string]> = [
  ['runs', 'runs', ''],
  ['schedules', 'schedules', 'schedules'],
  ['fleet', 'fleet', 'fleet'],
  ['queues', 'queues (Bull Board)', 'queues'],
  ['metrics', 'metrics', 'metrics'],
];

/** A whole console page. `root`, `title` and the page's parts are the code's own text, never user data. */
export function consolePage(p: ConsolePage): string {
  const nav = NAV.map(
    ([name, label, path]) =>
      `<a href="${p.root}${path === '' ? './' : path}"${name === p.active || (name === 'runs' && p.active === 'run') ? ' class="active"' : ''}>${label}</a>`,
  ).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${p.title} · cams-enrich</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>cams-enrich</h1><span id="queue-name"></span>${nav}<span class="right"><span id="updated"></span></span></header>
<main>
${p.main}
</main>
<script>
const ROOT = ${JSON.stringify(p.root)};
${CLIENT_SCRIPT}
${CHART_SCRIPT}
${p.script}
</script>
</body>
</html>
`;
}
