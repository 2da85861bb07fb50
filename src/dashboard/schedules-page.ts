/**
 * The schedules page (`/schedules`): each schedule of the queue with its cron in words and as written,
 * its time zone, next tick, whether it is enabled, its recent ticks with their outcome (the run started,
 * skipped and why, failed and the error, how long it took), and the enable, disable and run-now actions.
 * It reads `/api/schedules` every two seconds.
 */
import { consolePage } from './page-layout.js';

const MAIN = `
  <div id="schedules"><div class="card muted">loading…</div></div>
`;

const SCRIPT = `
const box = document.getElementById('schedules');
const messages = new Map();
const durationText = (ms) => (ms === null ? 'running…' : ms < 1000 ? ms + ' ms' : seconds(ms / 1000));

function tickOutcome(t) {
  if (t.outcome === 'started' && t.runId !== null)
    return $('span', {}, 'started ', $('a', { href: ROOT + 'runs/' + t.runId }, 'run ' + t.runId), t.summary ? $('span', { class: 'muted' }, ' · ' + t.summary) : null);
  if (t.outcome === 'skipped')
    return $('span', {}, 'skipped: ', t.reason || 'the previous run still had pending numbers',
      t.runId !== null ? $('span', {}, ' (', $('a', { href: ROOT + 'runs/' + t.runId }, 'run ' + t.runId), ')') : null);
  if (t.outcome === 'failed') return $('span', { class: 'message error' }, 'failed: ' + (t.error || 'no message'));
  if (t.outcome === 'running') return $('span', {}, 'running…');
  return $('span', {}, t.outcome, t.summary ? ': ' + t.summary : '');
}

function scheduleCard(s, canAct) {
  const id = 'schedule-' + s.name;
  const message = messages.get(s.name) || $('div', { class: 'message' });
  messages.set(s.name, message);
  const act = (what, label) => {
    const b = $('button', { type: 'button', class: 'act-' + what }, label);
    readOnlyTitle(b, canAct);
    b.onclick = async () => {
      b.disabled = true;
      const r = await postJson('api/schedules/' + encodeURIComponent(s.name) + '/' + what);
      showMessage(message, r, what === 'run' ? 'a tick was asked for now' : s.name + ' ' + what + 'd');
      load().catch(() => undefined);
    };
    return b;
  };
  const ticks = $('table', { class: 'ticks' }, $('tr', {}, $('th', {}, 'tick'), $('th', {}, 'outcome'), $('th', { class: 'num' }, 'took')));
  for (const t of s.ticks)
    ticks.append($('tr', { class: 'tick tick-' + t.outcome }, $('td', {}, timeCell(t.at), t.manual ? $('span', { class: 'muted' }, ' (run now)') : null),
      $('td', {}, tickOutcome(t)), $('td', { class: 'num' }, durationText(t.durationMs))));
  return $('div', { class: 'card schedule', id, 'data-ticks': s.ticks.length, 'data-enabled': String(s.enabled) },
    $('h2', {}, s.name, ' ', $('span', { class: 'phase ' + (s.enabled ? 'phase-finished' : 'phase-cancelled') }, s.enabled ? 'enabled' : 'disabled')),
    $('table', { class: 'kv' },
      $('tr', {}, $('td', {}, 'when'), $('td', {}, s.cronText, ' ', $('code', { class: 'muted' }, s.cron))),
      $('tr', {}, $('td', {}, 'time zone'), $('td', {}, s.tz || 'the server\\'s (UTC unless TZ is set)')),
      $('tr', {}, $('td', {}, 'next tick'), $('td', {}, s.next ? timeCell(s.next) : $('span', { class: 'muted' }, 'none while disabled'))),
      $('tr', {}, $('td', {}, 'command'), $('td', {}, $('code', {}, s.command.join(' '))))),
    $('div', { class: 'actions', style: 'margin:8px 0' }, s.enabled ? act('disable', 'Disable') : act('enable', 'Enable'), act('run', 'Run now')),
    message,
    s.ticks.length ? ticks : $('div', { class: 'muted' }, 'no tick yet'));
}

async function load() {
  const v = await getJson('api/schedules');
  const list = v.schedules || [];
  const canAct = v.canAct !== undefined ? v.canAct : await canActNow();
  box.replaceChildren(...(list.length ? list.map((s) => scheduleCard(s, canAct))
    : [$('div', { class: 'card muted' }, 'no schedule: add one with "cams-enrich schedule add NAME --cron \\'0 2 * * *\\' -- refresh --max-age 30d"')]));
}
let actKnown;
/** Whether actions are open to this page: the runs list's answer says. */
async function canActNow() {
  if (actKnown === undefined) actKnown = (await getJson('api/runs?limit=1')).canAct;
  return actKnown;
}
every(2000, load);
`;

export const SCHEDULES_PAGE = consolePage({
  title: 'schedules',
  active: 'schedules',
  root: '',
  main: MAIN,
  script: SCRIPT,
});
