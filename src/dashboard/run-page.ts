/**
 * A run's page (`/runs/:id`): its accounting with the bar, numbers settled (enriched, failed) and calls
 * throttled per second over the last ten minutes, failures by code with a masked sample, the first rejects and pending numbers, what it was
 * started with, the audit log's entries about it, and the actions (cancel, priority, retry the failed
 * numbers, downloads). It reads `/api/runs/:id` every two seconds and the audit every ten.
 */
import { consolePage } from './page-layout.js';

const MAIN = `
  <div class="card" id="summary">
    <h2 id="title">run</h2>
    <div id="bar"></div>
    <div class="legend" id="legend"></div>
    <div id="progress"></div>
    <div id="times" class="muted"></div>
  </div>
  <div class="card">
    <h2>Actions</h2>
    <div class="actions">
      <button type="button" id="cancel">Cancel the run</button>
      <label>priority <select id="priority"><option>high</option><option>normal</option><option>low</option></select></label>
      <button type="button" id="set-priority">Set priority</button>
      <button type="button" id="retry-failed">Retry the failed numbers (a new run)</button>
      <span class="muted">download:
        <a id="dl-export" download>export</a> · <a id="dl-rejects" download>rejects</a> · <a id="dl-failures" download>failures</a></span>
    </div>
    <div id="action-result" class="message"></div>
  </div>
  <div class="card">
    <h2>Numbers settled and calls throttled per second, this run <span class="muted" id="timeline-note"></span></h2>
    <svg id="timeline" class="chart"></svg>
  </div>
  <div class="grid2">
    <div class="card"><h2>Failures by code</h2><div id="failures"></div></div>
    <div class="card"><h2>Rejected rows</h2><div id="rejects"></div></div>
    <div class="card"><h2>Still pending</h2><div id="pending"></div></div>
    <div class="card"><h2>Options</h2><table class="kv" id="options"></table></div>
  </div>
  <div class="card"><h2>Audit</h2><div id="audit" class="muted">loading…</div></div>
`;

const SCRIPT = `
const RUN = Number(location.pathname.split('/').filter(Boolean).pop());
document.title = 'run ' + RUN + ' · cams-enrich';
for (const k of ['export', 'rejects', 'failures']) document.getElementById('dl-' + k).href = apiUrl('api/runs/' + RUN + '/' + k + '.csv');
const result = document.getElementById('action-result');

function table(headers, rows) {
  const t = $('table', {}, $('tr', {}, ...headers.map((h) => $('th', {}, h))));
  for (const r of rows) t.append($('tr', {}, ...r.map((c) => $('td', {}, c))));
  return t;
}

function drawSummary(v) {
  const r = v.run;
  document.getElementById('queue-name').textContent = 'queue ' + r.queue;
  const title = document.getElementById('title');
  title.replaceChildren('run ' + r.run + ' · ', phaseWord(r), ' · ' + r.source + (r.priority === 'normal' ? '' : ' · priority ' + r.priority));
  const summary = document.getElementById('summary');
  summary.dataset.phase = r.phase; summary.dataset.settled = r.total - r.pending; summary.dataset.total = r.total;
  document.getElementById('bar').replaceChildren(runBar(r));
  const legend = document.getElementById('legend');
  legend.replaceChildren();
  for (const s of STATES) legend.append($('span', {}, $('i', { class: s }), s + ' ' + r[s]));
  legend.append($('span', {}, 'pending ' + r.pending));
  const open = r.phase === 'running' || r.phase === 'importing';
  document.getElementById('progress').replaceChildren(progressText(r),
    open ? ' · ' + r.ratePerSecond + '/s · ETA ' + seconds(r.etaSeconds) : '',
    ' · calls made ' + r.callsMade + ' · calls saved ' + r.callsSaved + ' (fresh ' + r.skipped + ', duplicate ' + r.duplicate + ')',
    ' · CAMS requests ' + r.usage.calls + (r.usage.throttled ? ', throttled ' + r.usage.throttled : ''),
    r.phase === 'running' && r.waitingBehind.length ? ' · waiting behind run ' + r.waitingBehind.join(', ') : '');
  const started = Date.parse(r.createdAt), ended = r.finishedAt ? Date.parse(r.finishedAt) : null;
  document.getElementById('times').replaceChildren('started ', timeCell(r.createdAt),
    ended !== null ? $('span', {}, ' · ended ', timeCell(r.finishedAt), ' · took ' + seconds((ended - started) / 1000))
      : open ? ' · ' + r.phase + ' for ' + seconds((Date.now() - started) / 1000) : '');
}

let chosenPriority = null;
document.getElementById('priority').onchange = (e) => { chosenPriority = e.target.value; };

function drawActions(v) {
  const r = v.run, open = r.phase === 'running' || r.phase === 'importing';
  const cancel = document.getElementById('cancel'), setPriority = document.getElementById('set-priority');
  const retry = document.getElementById('retry-failed'), select = document.getElementById('priority');
  for (const b of [cancel, setPriority, retry]) { b.disabled = false; b.title = ''; }
  // A level the viewer chose stays chosen until the run has it: a refresh does not take it back.
  if (chosenPriority === r.priority) chosenPriority = null;
  if (chosenPriority === null) select.value = r.priority;
  if (!open) { cancel.disabled = true; cancel.title = 'the run is ' + r.phase; setPriority.disabled = true; setPriority.title = 'the run is ' + r.phase; }
  if (r.failed === 0) { retry.disabled = true; retry.title = 'no failed numbers'; }
  for (const b of [cancel, setPriority, retry]) readOnlyTitle(b, v.canAct);
  select.disabled = !v.canAct || !open;
}

document.getElementById('cancel').onclick = async () => {
  if (!confirm('Cancel run ' + RUN + '? Its pending numbers will not be called.')) return;
  const r = await postJson('api/runs/' + RUN + '/cancel');
  showMessage(result, r, 'cancel asked: ' + ((r.body && r.body.message) || 'the run stops taking calls'));
  load();
  loadAudit();
};
document.getElementById('set-priority').onclick = async () => {
  const level = document.getElementById('priority').value;
  const r = await postJson('api/runs/' + RUN + '/priority', { level });
  showMessage(result, r, 'priority set to ' + level);
  load();
  loadAudit();
};
document.getElementById('retry-failed').onclick = async () => {
  const r = await postJson('api/runs/' + RUN + '/retry-failed');
  const created = r.body && (r.body.run ?? r.body.runId);
  showMessage(result, r, 'retrying the failed numbers');
  if (r.ok && created) result.append(' as ', $('a', { href: String(created) }, 'run ' + created));
  load();
  loadAudit();
};

function drawTimeline(v) {
  // The last 10 minutes, or the run's life when it is younger.
  const now = Date.now(), from = Math.max(now - v.timelineSeconds * 1000, Date.parse(v.run.createdAt) - 5000);
  const pts = (k) => v.timeline.map((p) => ({ t: p.t, v: p[k] }));
  drawChart(document.getElementById('timeline'), {
    from, to: now, unit: 'per second', bars: true, barMs: 1000, height: 180, legend: true,
    series: [{ label: 'enriched', color: 'var(--ok)', points: pts('enriched') }, { label: 'failed', color: 'var(--bad)', points: pts('failed') },
      { label: 'throttled', color: 'var(--warn)', points: v.throttles.map((p) => ({ t: p.t, v: p.n })), unit: 'calls/s' }],
  });
  const total = v.timeline.reduce((a, p) => a + p.enriched + p.failed, 0);
  const throttled = v.throttles.reduce((a, p) => a + p.n, 0);
  document.getElementById('timeline-note').textContent = '· last ' + seconds(v.timelineSeconds) + ': ' + total + ' settled by a CAMS answer, ' + throttled + ' call' + (throttled === 1 ? '' : 's') + ' throttled';
}

function drawDetails(v) {
  const r = v.run;
  document.getElementById('failures').replaceChildren(v.failures.length === 0 ? $('span', { class: 'muted' }, 'none')
    : table(['code', 'numbers', 'for example'], v.failures.map((f) => [f.code, f.count, f.examples.join(', ')])));
  document.getElementById('rejects').replaceChildren(r.invalid === 0 ? $('span', { class: 'muted' }, 'none')
    : $('div', {}, table(['line', 'cell', 'why'], v.rejects.map((x) => [x.line, x.raw, x.reason])),
      r.invalid > v.rejects.length ? $('div', { class: 'muted' }, 'first ' + v.rejects.length + ' of ' + r.invalid + ': download the rejects for all') : null));
  const pending = document.getElementById('pending');
  pending.replaceChildren(r.pending === 0 ? $('span', { class: 'muted' }, 'nothing') : $('div', {},
    $('div', {}, r.pending + ' number' + (r.pending === 1 ? '' : 's') + ' pending' + (r.phase === 'cancelled' ? ' (calls in flight when cancelled)' : '')),
    v.pendingSample.length ? $('div', { class: 'muted' }, 'next to queue: ' + v.pendingSample.map((p) => 'line ' + p.line + ' ' + p.number).join(', ')) : null));
  const o = v.options;
  const rows = [
    ['source', o.source],
    ['started by', o.startedBy.schedule ? $('a', { href: ROOT + 'schedules#schedule-' + o.startedBy.schedule }, 'schedule ' + o.startedBy.schedule) : o.startedBy.kind],
    ['space', o.space === null ? 'per row' : o.space],
    ['priority', o.priority],
    ['skip numbers fetched within', o.maxAgeSeconds > 0 ? seconds(o.maxAgeSeconds) : 'always fetch'],
    ['input file', o.inputPath === null ? (o.inputSha256 ? 'standard input' : '—') : o.inputPath],
    ['input SHA-256', o.inputSha256 || '—'],
    ['reading options', o.inputOptions && Object.keys(o.inputOptions).length ? Object.entries(o.inputOptions).map(([k, x]) => k + '=' + x).join(', ') : '—'],
  ];
  document.getElementById('options').replaceChildren(...rows.map(([k, x]) => $('tr', {}, $('td', {}, k), $('td', {}, x))));
}

async function loadAudit() {
  const box = document.getElementById('audit');
  try {
    const a = await getJson('api/audit?run=' + RUN);
    const entries = Array.isArray(a) ? a : a.entries || [];
    box.className = entries.length ? '' : 'muted';
    box.replaceChildren(entries.length === 0 ? 'no action taken on this run yet'
      : table(['when', 'action', 'details', 'from', 'through'], entries.map((e) => [timeCell(e.at), e.action,
        Object.entries(e.details || {}).map(([k, x]) => k + '=' + (typeof x === 'object' ? JSON.stringify(x) : x)).join(', '), e.actor, e.via])));
  } catch (err) {
    box.textContent = 'cannot read the audit log: ' + err.message;
  }
}

async function load() {
  const v = await getJson('api/runs/' + RUN);
  drawSummary(v); drawActions(v); drawTimeline(v); drawDetails(v);
}
every(2000, load);
loadAudit();
setInterval(loadAudit, 10000);
`;

export const RUN_PAGE = consolePage({ title: 'run', active: 'run', root: '../', main: MAIN, script: SCRIPT });
