/**
 * The runs page: one static HTML document with a small script that reads `/api/runs` every two
 * seconds and draws the runs, the queue's state and the call-rate chart. No build step, no external
 * asset; values are inserted as text, never as HTML.
 */
export const RUNS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cams-enrich runs</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f4f6f9; }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 20px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header a { color: #9cc3ff; }
  main { padding: 16px 20px; max-width: 1100px; }
  .card { background: #fff; border-radius: 6px; padding: 12px 16px; margin-bottom: 14px; box-shadow: 0 1px 2px #0002; }
  .banner { border-left: 5px solid #2e9e5b; }
  .banner.paused { border-left-color: #d9534f; background: #fff5f5; }
  .bar { display: flex; height: 16px; border-radius: 4px; overflow: hidden; background: #e3e7ee; margin: 6px 0; }
  .bar span { display: block; height: 100%; }
  .enriched { background: #2e9e5b; } .failed { background: #d9534f; } .skipped { background: #5b9bd5; }
  .duplicate { background: #9e7cc1; } .invalid { background: #c9a227; } .cancelled { background: #777; }
  .legend span { margin-right: 12px; white-space: nowrap; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
  .muted { color: #667085; }
  table { border-collapse: collapse; margin-top: 4px; }
  td, th { padding: 2px 10px 2px 0; text-align: left; }
  button { font: inherit; padding: 4px 12px; }
  svg text { font-size: 11px; fill: #667085; }
</style>
</head>
<body>
<header><h1>cams-enrich</h1><span id="queue-name"></span><a href="queues">queues (Bull Board)</a><a href="metrics">metrics</a><span id="updated" class="muted"></span></header>
<main>
  <div id="queue" class="card banner"></div>
  <div class="card">
    <div><b>CAMS calls per second</b> <span class="muted" id="chart-note"></span></div>
    <svg id="chart" width="100%" height="160" viewBox="0 0 1000 160" preserveAspectRatio="none"></svg>
  </div>
  <div id="runs"></div>
</main>
<script>
const $ = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
};
const seconds = (s) => {
  if (s === null || s === undefined) return '—';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = Math.floor(s % 60);
  return h > 0 ? h + 'h ' + String(m).padStart(2, '0') + 'm' : m > 0 ? m + 'm ' + String(r).padStart(2, '0') + 's' : r + 's';
};
const STATES = ['enriched', 'failed', 'skipped', 'duplicate', 'invalid', 'cancelled'];

function drawQueue(v) {
  const q = v.queue, box = document.getElementById('queue');
  document.getElementById('queue-name').textContent = 'queue ' + q.name;
  box.className = 'card banner' + (q.paused ? ' paused' : '');
  box.replaceChildren();
  const workers = q.workers === 0 ? 'no worker connected (start one with "cams-enrich worker")'
    : q.workers + ' worker' + (q.workers === 1 ? '' : 's') + ' connected';
  box.append($('div', { id: 'queue-state' }, q.paused ? 'PAUSED' : 'running', ' · ', workers, ' · ',
    q.waiting + ' waiting, ' + q.active + ' active, ' + q.delayed + ' delayed'));
  box.append($('div', { class: 'muted' }, 'quota ' + v.quota + '/s',
    v.rateLimit !== null ? ' · fleet allows ' + v.rateLimit + '/s now' : '',
    ' · ' + v.throttlesLastMinute + ' throttled in the last minute',
    v.backoffSeconds > 0 ? ' · every call paused ' + v.backoffSeconds.toFixed(1) + ' s more' : ''));
  if (q.paused) {
    const why = q.alert ? 'paused by ' + q.alert.code + ' at ' + q.alert.raisedAt + ': ' + q.alert.message
      : 'paused by hand (Bull Board or the API)';
    box.append($('div', { id: 'paused-why' }, why));
    const button = $('button', { id: 'resume' }, 'Resume (same as "cams-enrich resume")');
    if (!v.canAct) { button.disabled = true; button.title = 'read-only: start the dashboard with DASHBOARD_TOKEN to act'; }
    button.onclick = async () => {
      button.disabled = true;
      const r = await fetch('api/resume', { method: 'POST' });
      box.append($('div', {}, r.ok ? 'resumed' : 'resume failed: ' + r.status));
      refresh();
    };
    box.append(button);
  }
}

function drawChart(v) {
  const svg = document.getElementById('chart'), W = 1000, H = 160, pad = 18;
  const pts = v.calls.slice(-150);
  const top = Math.max(v.quota * 1.25, ...pts.map((p) => p.perSecond), 1);
  const y = (val) => H - pad - (val / top) * (H - 2 * pad);
  const ns = 'http://www.w3.org/2000/svg';
  const el = (tag, attrs) => { const e = document.createElementNS(ns, tag); for (const [k, a] of Object.entries(attrs)) e.setAttribute(k, a); return e; };
  svg.replaceChildren();
  svg.append(el('line', { x1: 0, x2: W, y1: y(v.quota), y2: y(v.quota), stroke: '#d9534f', 'stroke-dasharray': '6 4' }));
  const label = el('text', { x: 4, y: y(v.quota) - 4 }); label.textContent = 'quota ' + v.quota + '/s'; svg.append(label);
  if (pts.length > 1) {
    const t0 = pts[0].t, t1 = pts[pts.length - 1].t, span = Math.max(1, t1 - t0);
    const d = pts.map((p, i) => (i ? 'L' : 'M') + ((p.t - t0) / span) * W + ' ' + y(p.perSecond)).join(' ');
    svg.append(el('path', { d, fill: 'none', stroke: '#2e6fd9', 'stroke-width': 2 }));
    document.getElementById('chart-note').textContent = 'last ' + seconds(Math.round(span / 1000)) +
      ', now ' + pts[pts.length - 1].perSecond + '/s';
  } else document.getElementById('chart-note').textContent = 'collecting samples…';
}

function drawRuns(v) {
  const box = document.getElementById('runs');
  box.replaceChildren();
  if (v.runs.length === 0) box.append($('div', { class: 'card' }, 'no runs yet: start one with "cams-enrich import <file.csv> --space <CustSpaceId>"'));
  for (const r of v.runs) {
    const done = r.total - r.pending;
    const pct = r.total ? Math.floor((done / r.total) * 100) : 100;
    const bar = $('div', { class: 'bar', title: done + ' of ' + r.total + ' settled' });
    for (const s of STATES) if (r[s] > 0) bar.append($('span', { class: s, style: 'width:' + (r[s] / r.total) * 100 + '%' }));
    const legend = $('div', { class: 'legend' });
    for (const s of STATES) legend.append($('span', {}, $('i', { class: s }), s + ' ' + r[s]));
    legend.append($('span', {}, 'pending ' + r.pending));
    const state = r.phase + (r.finished && r.finishedAt ? ' ' + r.finishedAt : '') + (r.priority === 'normal' ? '' : ' · priority ' + r.priority) +
      (r.phase === 'running' && r.waitingBehind.length ? ' · waiting behind run ' + r.waitingBehind.join(', ') : '');
    const card = $('div', { class: 'card run', id: 'run-' + r.run, 'data-settled': done, 'data-total': r.total },
      $('div', {}, $('b', {}, 'run ' + r.run), ' · ', r.source, ' · ', $('span', { class: 'muted' }, 'created ' + r.createdAt + ' · ' + state)),
      bar,
      $('div', { class: 'progress' }, pct + '% (' + done + '/' + r.total + ')',
        r.finished ? '' : ' · ' + r.ratePerSecond + '/s · ETA ' + seconds(r.etaSeconds),
        ' · calls made ' + r.callsMade + ' · calls saved ' + r.callsSaved + ' (skipped ' + r.skipped + ', duplicate ' + r.duplicate + ')'),
      legend,
      $('div', { class: 'muted' }, 'download: ',
        $('a', { href: 'api/runs/' + r.run + '/export.csv' }, 'export'), ' · ',
        $('a', { href: 'api/runs/' + r.run + '/rejects.csv' }, 'rejects'), ' · ',
        $('a', { href: 'api/runs/' + r.run + '/failures.csv' }, 'failures')));
    if (r.failures.length > 0) {
      const t = $('table', {}, $('tr', {}, $('th', {}, 'failed with'), $('th', {}, 'numbers'), $('th', {}, 'for example')));
      for (const f of r.failures) t.append($('tr', {}, $('td', {}, f.code), $('td', {}, f.count), $('td', { class: 'muted' }, f.examples.join(', '))));
      card.append(t);
    }
    box.append(card);
  }
}

async function refresh() {
  try {
    const r = await fetch('api/runs');
    if (!r.ok) throw new Error('HTTP ' + r.status);
    const v = await r.json();
    drawQueue(v); drawChart(v); drawRuns(v);
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (err) {
    document.getElementById('updated').textContent = 'cannot read api/runs: ' + err.message;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
