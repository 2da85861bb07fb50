/**
 * The console pages' client helpers, as script text: element building (values as text only), times in
 * the viewer's local time, and reading or acting on the API with the token. A page opened as
 * `http://user:TOKEN@host/` has credentials in its own URL, which `fetch` refuses in any URL resolved
 * against it: every request goes to the URL without them, and the token from the page's URL is sent as
 * `Authorization: Bearer` (a page opened after the browser's basic-auth prompt needs nothing: the
 * browser sends it itself).
 */
export const CLIENT_SCRIPT = `
const PAGE_URL = new URL(location.href);
const TOKEN = PAGE_URL.password ? decodeURIComponent(PAGE_URL.password) : '';
PAGE_URL.username = ''; PAGE_URL.password = '';
const apiUrl = (path) => new URL(ROOT + path, PAGE_URL).href;
const authHeaders = (h) => (TOKEN ? Object.assign({}, h, { Authorization: 'Bearer ' + TOKEN }) : h || {});
async function getJson(path) {
  const r = await fetch(apiUrl(path), { headers: authHeaders({ Accept: 'application/json' }) });
  if (!r.ok) throw new Error('HTTP ' + r.status + ' reading ' + path);
  return r.json();
}
/** POSTs JSON; resolves to { ok, status, body } whatever the answer. */
async function postJson(path, body) {
  const r = await fetch(apiUrl(path), {
    method: 'POST',
    headers: authHeaders({ 'Content-Type': 'application/json', Accept: 'application/json' }),
    body: JSON.stringify(body || {}),
  });
  let parsed = null;
  const text = await r.text();
  try { parsed = JSON.parse(text); } catch { parsed = { error: text.trim() }; }
  return { ok: r.ok, status: r.status, body: parsed };
}
const $ = (tag, attrs, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? '' : v);
  for (const c of children) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
};
const seconds = (s) => {
  if (s === null || s === undefined) return '—';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = Math.floor(s % 60);
  return h > 0 ? h + 'h ' + String(m).padStart(2, '0') + 'm' : m > 0 ? m + 'm ' + String(r).padStart(2, '0') + 's' : r + 's';
};
/** An ISO time in the viewer's local time, with the zone's name in the title. */
const localTime = (iso) => {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString([], { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
};
const timeCell = (iso) => $('time', { datetime: iso || '', title: iso ? new Date(iso).toString() : '' }, localTime(iso));
const STATES = ['enriched', 'failed', 'skipped', 'duplicate', 'invalid', 'cancelled'];
/** The accounting bar of a run: one coloured part per final state, pending left grey. */
function runBar(r) {
  const done = r.total - r.pending;
  const bar = $('div', { class: 'bar', title: done + ' of ' + r.total + ' settled' });
  for (const s of STATES) if (r[s] > 0) bar.append($('span', { class: s, style: 'width:' + (r[s] / r.total) * 100 + '%', title: s + ' ' + r[s] }));
  return bar;
}
/** Progress in words: an import with nothing read is 0%, a finished run of nothing 100%. */
function progressText(r) {
  const done = r.total - r.pending;
  const pct = r.total ? Math.floor((done / r.total) * 100) : (r.phase === 'finished' ? 100 : 0);
  return pct + '% (' + done + '/' + r.total + ')';
}
function phaseWord(r) { return $('span', { class: 'phase phase-' + r.phase }, r.phase); }
function setUpdated(ok, text) {
  const el = document.getElementById('updated');
  el.textContent = ok ? 'updated ' + new Date().toLocaleTimeString() : text;
  el.style.color = ok ? '' : '#ff9b95';
}
/** Runs \`task\` now and every \`ms\`; a failure shows in the header and the next round tries again. */
function every(ms, task) {
  const round = async () => {
    try { await task(); setUpdated(true); }
    catch (err) { setUpdated(false, 'cannot read the API: ' + err.message); }
  };
  round();
  return setInterval(round, ms);
}
function showMessage(el, result, done) {
  el.className = 'message' + (result.ok ? '' : ' error');
  el.textContent = result.ok ? done : 'refused (' + result.status + '): ' + ((result.body && result.body.error) || '');
}
function readOnlyTitle(button, canAct) {
  if (canAct) return;
  button.disabled = true;
  button.title = 'read-only: start the dashboard with DASHBOARD_TOKEN and open it with the token to act';
}
`;
