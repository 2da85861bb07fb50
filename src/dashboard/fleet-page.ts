/**
 * The fleet page (`/fleet`): the queue's worker processes (host, pid, version, concurrency, uptime, calls
 * in the last minute), the account's rate controller (the rate the fleet allows itself against the
 * quota, its margin, throttles, pauses), the fleet's calls per second and throttles per minute over the
 * last hour as charts, and the queue's alert with what to do. It reads `/api/fleet` every two seconds.
 */
import { consolePage } from './page-layout.js';

const MAIN = `
  <div id="alert"></div>
  <div class="grid2">
    <div class="card"><h2>Rate controller</h2><table class="kv" id="controller"></table></div>
    <div class="card"><h2>Queue</h2><table class="kv" id="queue-table"></table></div>
  </div>
  <div class="card">
    <h2>CAMS calls per second, whole fleet <span class="muted" id="calls-note"></span></h2>
    <svg id="calls-chart" class="chart"></svg>
  </div>
  <div class="card">
    <h2>Throttles per minute, last hour <span class="muted" id="throttles-note"></span></h2>
    <svg id="throttles-chart" class="chart"></svg>
  </div>
  <div class="card">
    <h2>Workers of this queue</h2>
    <table id="workers-table"><thead><tr><th>host</th><th class="num">pid</th><th>version</th><th class="num">concurrency</th>
      <th class="num">up for</th><th class="num">calls, last minute</th><th class="num">calls since start</th></tr></thead><tbody id="workers"></tbody></table>
    <div id="no-workers" class="muted"></div>
  </div>
`;

const SCRIPT = `
const kv = (rows) => rows.map(([k, v]) => $('tr', {}, $('td', {}, k), $('td', {}, v)));

function drawAlert(v) {
  const box = document.getElementById('alert');
  box.replaceChildren();
  if (!v.alert) return;
  const message = $('div', { class: 'message' });
  const resume = $('button', { type: 'button', id: 'resume' }, 'Resume the queue');
  readOnlyTitle(resume, v.canAct);
  resume.onclick = async () => {
    resume.disabled = true;
    showMessage(message, await postJson('api/queue/resume'), 'resumed');
  };
  box.append($('div', { class: 'card banner paused', id: 'account-alert' },
    $('h2', {}, 'Alert: ' + v.alert.code),
    $('div', {}, v.alert.message),
    $('div', { class: 'muted' }, 'raised ', timeCell(v.alert.raisedAt)),
    $('div', { style: 'margin-top:6px' }, $('b', {}, 'What to do: '), v.alert.advice),
    v.queue.paused ? $('div', { class: 'actions', style: 'margin-top:6px' }, resume) : null, message));
}

function drawTables(v) {
  const l = v.limiter, q = v.queue;
  document.getElementById('queue-name').textContent = 'queue ' + q.name;
  const pct = Math.round(l.allowedShare * 1000) / 10;
  document.getElementById('controller').replaceChildren(...kv([
    ['account', l.account || '— (no worker recorded one yet)'],
    ['quota', l.quota + ' calls/s' + (l.quotaStored ? '' : ' (CAMS_RATE_LIMIT; no worker stored one yet)')],
    ['allowed now', $('span', { id: 'allowed' }, l.allowedRate.toFixed(2) + ' calls/s (' + pct + '% of the quota)' + (l.active ? '' : ', before the first call'))],
    ['margin', l.marginMs.toFixed(0) + ' ms added to each 1 s window for the line\\'s delay spread'],
    ['throttles, last minute', String(l.throttlesLastMinute)],
    ['fleet pause left', l.pausedForMs > 0 ? (l.pausedForMs / 1000).toFixed(1) + ' s' : 'none'],
    ['endpoint', l.unreachableForMs === null ? 'answers' : 'unreachable for ' + seconds(l.unreachableForMs / 1000)],
  ]));
  document.getElementById('queue-table').replaceChildren(...kv([
    ['state', q.paused ? 'PAUSED' : 'running'],
    ['workers alive', String(q.workers)],
    ['jobs', q.waiting + ' waiting, ' + q.active + ' active, ' + q.delayed + ' delayed'],
  ]));
}

function drawCharts(v) {
  const pts = v.calls.map((p) => ({ t: p.t, v: p.perSecond }));
  const now = pts.length ? pts[pts.length - 1].t : Date.now();
  drawChart(document.getElementById('calls-chart'), {
    from: pts.length ? Math.max(pts[0].t, now - 10 * 60 * 1000) : now - 60 * 1000, to: now, unit: 'calls/s', height: 180,
    series: [{ label: 'calls', color: 'var(--series1)', points: pts }],
    quota: { value: v.limiter.quota, label: 'quota ' + v.limiter.quota + ' calls/s' },
  });
  document.getElementById('calls-note').textContent = '· allowed now ' + v.limiter.allowedRate.toFixed(2) + ' calls/s';
  const minutes = v.throttlesPerMinute;
  const last = minutes.length ? minutes[minutes.length - 1].t : Date.now();
  drawChart(document.getElementById('throttles-chart'), {
    from: last - 60 * 60 * 1000, to: last + 60 * 1000, unit: 'throttles/min', bars: true, barMs: 60 * 1000, height: 180,
    series: [{ label: 'throttles', color: 'var(--series2)', points: minutes.map((m) => ({ t: m.t, v: m.n })) }],
  });
  const total = minutes.reduce((a, m) => a + m.n, 0);
  document.getElementById('throttles-note').textContent = '· ' + total + ' in all' + (v.since ? ', counted since ' + localTime(v.since) : '');
}

function drawWorkers(v) {
  document.getElementById('workers').replaceChildren(...v.workers.map((w) => $('tr', { class: 'worker' },
    $('td', {}, w.host), $('td', { class: 'num' }, w.pid), $('td', {}, w.version || '—'),
    $('td', { class: 'num' }, w.concurrency === null ? '—' : w.concurrency),
    $('td', { class: 'num' }, w.uptimeSeconds === null ? '—' : seconds(w.uptimeSeconds)),
    $('td', { class: 'num' }, w.callsLastMinute), $('td', { class: 'num' }, w.calls))));
  document.getElementById('no-workers').textContent = v.workers.length ? '' : 'no worker connected: start one with "cams-enrich worker"';
}

async function load() {
  const v = await getJson('api/fleet');
  drawAlert(v); drawTables(v); drawCharts(v); drawWorkers(v);
}
every(2000, load);
`;

export const FLEET_PAGE = consolePage({
  title: 'fleet',
  active: 'fleet',
  root: '',
  main: MAIN,
  script: SCRIPT,
});
