/**
 * The runs list (`/`): the queue's state with pause and resume, the fleet's CAMS calls per second
 * against the quota, and one line per run (newest first, 50 a page) filtered by state, source, space
 * and priority. It reads `/api/runs` every two seconds; the filter and page live in the page's own
 * query string, so a filtered view can be bookmarked.
 */
import { consolePage } from './page-layout.js';

const MAIN = `
  <div id="queue" class="card banner"></div>
  <div class="card">
    <h2>CAMS calls per second, whole fleet <span class="muted" id="chart-note"></span></h2>
    <svg id="chart" class="chart"></svg>
  </div>
  <div class="card">
    <form class="filters" id="filters">
      <label>state <select id="f-state" name="state"><option value="">any</option>
        <option>importing</option><option>running</option><option>finished</option><option>aborted</option><option>cancelled</option></select></label>
      <label>source <input id="f-source" name="source" list="sources" placeholder="csv, database, refresh, schedule:NAME" size="28"></label>
      <datalist id="sources"><option value="csv"><option value="database"><option value="refresh"><option value="schedule"></datalist>
      <label>space <input id="f-space" name="space" placeholder="CustSpaceId" size="16"></label>
      <label>priority <select id="f-priority" name="priority"><option value="">any</option>
        <option>high</option><option>normal</option><option>low</option></select></label>
      <button type="button" id="f-clear">clear</button>
    </form>
  </div>
  <div class="card">
    <table id="runs-table">
      <thead><tr><th>run</th><th>source</th><th>space</th><th>priority</th><th>state</th><th>progress</th>
        <th class="num">rate</th><th class="num">ETA</th><th class="num">calls made</th><th class="num">saved</th><th>started</th><th>finished</th></tr></thead>
      <tbody id="runs"></tbody>
    </table>
    <div id="empty" class="muted"></div>
    <div class="pager"><button type="button" id="prev">‹ newer</button><span id="page-info" class="muted"></span><button type="button" id="next">older ›</button></div>
  </div>
`;

const SCRIPT = `
const FILTERS = ['state', 'source', 'space', 'priority'];
const query = new URLSearchParams(location.search);
let pageNo = Math.max(1, Number(query.get('page')) || 1);
for (const f of FILTERS) document.getElementById('f-' + f).value = query.get(f) || '';

function currentQuery() {
  const q = new URLSearchParams();
  for (const f of FILTERS) { const v = document.getElementById('f-' + f).value.trim(); if (v) q.set(f, v); }
  if (pageNo > 1) q.set('page', String(pageNo));
  return q;
}
function filterChanged() {
  pageNo = 1;
  history.replaceState(null, '', '?' + currentQuery().toString());
  refresh();
}
for (const f of FILTERS) {
  const el = document.getElementById('f-' + f);
  el.addEventListener('change', filterChanged);
  if (el.tagName === 'INPUT') el.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); filterChanged(); } });
}
document.getElementById('filters').addEventListener('submit', (e) => { e.preventDefault(); filterChanged(); });
document.getElementById('f-clear').onclick = () => { for (const f of FILTERS) document.getElementById('f-' + f).value = ''; filterChanged(); };
document.getElementById('prev').onclick = () => { pageNo = Math.max(1, pageNo - 1); history.replaceState(null, '', '?' + currentQuery()); refresh(); };
document.getElementById('next').onclick = () => { pageNo += 1; history.replaceState(null, '', '?' + currentQuery()); refresh(); };

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
    v.backoffSeconds > 0 ? ' · every call paused ' + v.backoffSeconds.toFixed(1) + ' s more' : '', ' · ',
    $('a', { href: ROOT + 'fleet' }, 'fleet')));
  const message = $('div', { class: 'message' });
  if (q.paused) {
    const why = q.alert ? 'paused by ' + q.alert.code + ' at ' + localTime(q.alert.raisedAt) + ': ' + q.alert.message
      : 'paused by hand' + (q.pauseReason ? ': ' + q.pauseReason : ' (Bull Board, the API or "cams-enrich pause")');
    box.append($('div', { id: 'paused-why' }, why));
    const button = $('button', { id: 'resume', type: 'button' }, 'Resume (same as "cams-enrich resume")');
    readOnlyTitle(button, v.canAct);
    button.onclick = async () => {
      button.disabled = true;
      const r = await postJson('api/queue/resume');
      showMessage(message, r, 'resumed');
      refresh();
    };
    box.append($('div', { class: 'actions' }, button));
  } else {
    const reason = $('input', { id: 'pause-reason', placeholder: 'reason (shown to everyone)', size: 32 });
    const button = $('button', { id: 'pause', type: 'button' }, 'Pause the queue');
    readOnlyTitle(button, v.canAct);
    if (!v.canAct) reason.disabled = true;
    button.onclick = async () => {
      button.disabled = true;
      const r = await postJson('api/queue/pause', { reason: reason.value.trim() || undefined });
      showMessage(message, r, 'paused');
      refresh();
    };
    box.append($('div', { class: 'actions', style: 'margin-top:6px' }, reason, button));
  }
  box.append(message);
}

function drawFleetChart(v) {
  const pts = v.calls.map((p) => ({ t: p.t, v: p.perSecond }));
  const now = pts.length ? pts[pts.length - 1].t : Date.now();
  const from = pts.length ? Math.max(pts[0].t, now - 10 * 60 * 1000) : now - 60 * 1000;
  drawChart(document.getElementById('chart'), {
    from, to: now, unit: 'calls/s', height: 180,
    series: [{ label: 'calls', color: 'var(--series1)', points: pts }],
    quota: { value: v.quota, label: 'quota ' + v.quota + ' calls/s' },
  });
  document.getElementById('chart-note').textContent = pts.length > 1
    ? '· last ' + seconds(Math.round((now - pts[0].t) / 1000)) + ', now ' + pts[pts.length - 1].v + ' calls/s'
    : '· collecting samples…';
}

function runLine(r) {
  const done = r.total - r.pending;
  const open = r.phase === 'running' || r.phase === 'importing';
  return $('tr', { class: 'run', id: 'run-' + r.run, 'data-settled': done, 'data-total': r.total, 'data-phase': r.phase },
    $('td', {}, $('a', { href: ROOT + 'runs/' + r.run }, String(r.run))),
    $('td', {}, r.source),
    $('td', {}, r.space === null ? $('span', { class: 'muted', title: 'each row carries its own space' }, 'per row') : r.space),
    $('td', {}, r.priority),
    $('td', {}, phaseWord(r), r.phase === 'running' && r.waitingBehind.length ? $('div', { class: 'muted' }, 'behind ' + r.waitingBehind.join(', ')) : null),
    $('td', { style: 'min-width:160px' }, runBar(r), $('span', { class: 'muted progress' }, progressText(r))),
    $('td', { class: 'num' }, open ? r.ratePerSecond + '/s' : '—'),
    $('td', { class: 'num' }, open ? seconds(r.etaSeconds) : '—'),
    $('td', { class: 'num' }, r.callsMade),
    $('td', { class: 'num', title: 'fresh ' + r.skipped + ', duplicate ' + r.duplicate }, r.callsSaved),
    $('td', {}, timeCell(r.createdAt)),
    $('td', {}, r.finishedAt ? timeCell(r.finishedAt) : $('span', { class: 'muted' }, open ? '…' : '—')));
}

function drawRuns(v) {
  const body = document.getElementById('runs');
  body.replaceChildren(...v.runs.map(runLine));
  const pages = Math.max(1, Math.ceil(v.matching / v.limit));
  const filtered = Object.keys(v.filter).length > 0;
  document.getElementById('empty').textContent = v.runs.length > 0 ? ''
    : filtered ? 'no run matches this filter'
    : v.page > 1 ? 'no runs on this page' : 'no runs yet: start one with "cams-enrich import <file.csv> --space <CustSpaceId>"';
  document.getElementById('page-info').textContent = 'page ' + v.page + ' of ' + pages + ' · ' + v.matching + ' run' + (v.matching === 1 ? '' : 's') + (filtered ? ' match' : '');
  document.getElementById('prev').disabled = v.page <= 1;
  document.getElementById('next').disabled = v.page >= pages;
}

async function load() {
  const q = currentQuery().toString();
  const v = await getJson('api/runs?' + q);
  // An answer to a filter or page changed meanwhile is dropped: the newer request draws.
  if (q !== currentQuery().toString()) return;
  drawQueue(v); drawFleetChart(v); drawRuns(v);
}
const refresh = () => load().then(() => setUpdated(true), (err) => setUpdated(false, 'cannot read the API: ' + err.message));
every(2000, load);
`;

export const RUNS_PAGE = consolePage({ title: 'runs', active: 'runs', root: '', main: MAIN, script: SCRIPT });
