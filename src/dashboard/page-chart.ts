/**
 * The console's charts, as script text: `drawChart(svg, options)` draws time series as inline SVG with
 * a value axis (values and unit), a time axis (the viewer's local time), an optional labelled quota
 * line, and the values under the pointer on hover. Colours come from the page's style, so the charts
 * follow the light or dark setting.
 *
 *   drawChart(svg, { from, to, unit: 'calls/s', bars: false,
 *     series: [{ label: 'calls', color: 'var(--series1)', points: [{ t, v }] }],
 *     quota: { value: 10, label: 'quota 10/s' } })
 */
export const CHART_SCRIPT = `
const SVG_NS = 'http://www.w3.org/2000/svg';
const svgEl = (tag, attrs, text) => {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].map((s) => s * 1000);
const fmtValue = (v) => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(v < 10 ? 2 : 1).replace(/\\.?0+$/, ''));
function fmtTime(t, stepMs) {
  const o = stepMs < 60000 ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : { hour: '2-digit', minute: '2-digit' };
  return new Date(t).toLocaleTimeString([], o);
}
function drawChart(svg, o) {
  const W = 1000, H = o.height || 220, L = 64, R = 16, T = 16, B = 34;
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  svg.setAttribute('class', 'chart');
  svg.replaceChildren();
  const from = o.from, to = Math.max(o.to, o.from + 1000);
  const values = o.series.flatMap((s) => s.points.map((p) => p.v));
  let top = Math.max(1, ...values, o.quota ? o.quota.value * 1.15 : 0);
  const step = niceStep(top / 4);
  top = Math.ceil(top / step) * step;
  const x = (t) => L + ((t - from) / (to - from)) * (W - L - R);
  const y = (v) => H - B - (v / top) * (H - B - T);
  for (let v = 0; v <= top + step / 1000; v += step) {
    svg.append(svgEl('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    svg.append(svgEl('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmtValue(v)));
  }
  svg.append(svgEl('text', { x: 4, y: T - 2 }, o.unit));
  const tStep = TIME_STEPS.find((s) => (to - from) / s <= 7) || TIME_STEPS[TIME_STEPS.length - 1];
  for (let t = Math.ceil(from / tStep) * tStep; t <= to; t += tStep) {
    svg.append(svgEl('line', { class: 'axis', x1: x(t), x2: x(t), y1: H - B, y2: H - B + 4 }));
    svg.append(svgEl('text', { x: x(t), y: H - B + 17, 'text-anchor': 'middle' }, fmtTime(t, tStep)));
  }
  svg.append(svgEl('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  svg.append(svgEl('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }));
  if (o.quota) {
    svg.append(svgEl('line', { x1: L, x2: W - R, y1: y(o.quota.value), y2: y(o.quota.value), style: 'stroke: var(--quota)', 'stroke-dasharray': '6 4', class: 'quota' }));
    svg.append(svgEl('text', { x: W - R - 4, y: y(o.quota.value) - 5, 'text-anchor': 'end', style: 'fill: var(--quota)', class: 'quota-label' }, o.quota.label));
  }
  const slot = o.bars ? Math.max(2, ((W - L - R) * (o.barMs || 1000)) / (to - from) - 1) : 0;
  o.series.forEach((s, i) => {
    const pts = s.points.filter((p) => p.t >= from && p.t <= to);
    if (o.bars) {
      const w = slot / o.series.length;
      for (const p of pts) if (p.v > 0)
        svg.append(svgEl('rect', { x: x(p.t) + i * w, y: y(p.v), width: Math.max(1, w), height: H - B - y(p.v), style: 'fill: ' + s.color }));
    } else if (pts.length > 0) {
      const d = pts.map((p, j) => (j ? 'L' : 'M') + x(p.t).toFixed(1) + ' ' + y(p.v).toFixed(1)).join(' ');
      svg.append(svgEl('path', { d, fill: 'none', style: 'stroke: ' + s.color, 'stroke-width': 2 }));
    }
  });
  if (o.series.length > 1 || o.legend) {
    let lx = L + 90;
    for (const s of o.series) {
      svg.append(svgEl('rect', { x: lx, y: T - 10, width: 10, height: 10, style: 'fill: ' + s.color }));
      const label = svgEl('text', { x: lx + 14, y: T - 1 }, s.label);
      svg.append(label);
      lx += 24 + s.label.length * 7;
    }
  }
  // Hover: the values of every series at the time under the pointer.
  const cursor = svgEl('line', { class: 'axis', y1: T, y2: H - B, visibility: 'hidden', 'stroke-dasharray': '2 3' });
  const tip = svgEl('g', { class: 'tip', visibility: 'hidden' });
  const box = svgEl('rect', { rx: 4, ry: 4 });
  const lines = [svgEl('text', {})].concat(o.series.map(() => svgEl('text', {})));
  tip.append(box, ...lines);
  svg.append(cursor, tip);
  const hit = svgEl('rect', { x: L, y: T, width: W - L - R, height: H - B - T, fill: 'transparent' });
  svg.append(hit);
  hit.addEventListener('mousemove', (ev) => {
    const m = svg.getScreenCTM();
    if (!m) return;
    const px = (ev.clientX - m.e) / m.a;
    const t = from + ((px - L) / (W - L - R)) * (to - from);
    const near = (pts) => pts.reduce((best, p) => (best === null || Math.abs(p.t - t) < Math.abs(best.t - t) ? p : best), null);
    const at = o.series.map((s) => near(s.points));
    const ref = at.find((p) => p !== null);
    if (!ref) return;
    const tolerance = o.barMs || 2000;
    lines[0].textContent = new Date(ref.t).toLocaleTimeString();
    o.series.forEach((s, i) => {
      const p = at[i];
      lines[i + 1].textContent = s.label + ': ' + (p && Math.abs(p.t - ref.t) <= tolerance ? fmtValue(p.v) : '0') + ' ' + (s.unit || o.unit);
    });
    const width = Math.max(...lines.map((l) => l.textContent.length)) * 7 + 16;
    const tx = Math.min(x(ref.t) + 8, W - R - width), ty = T + 4;
    lines.forEach((l, i) => { l.setAttribute('x', tx + 8); l.setAttribute('y', ty + 16 + i * 16); });
    box.setAttribute('x', tx); box.setAttribute('y', ty); box.setAttribute('width', width); box.setAttribute('height', 10 + lines.length * 16);
    cursor.setAttribute('x1', x(ref.t)); cursor.setAttribute('x2', x(ref.t));
    cursor.setAttribute('visibility', 'visible'); tip.setAttribute('visibility', 'visible');
    svg.dataset.hover = lines.map((l) => l.textContent).join(' · ');
  });
  hit.addEventListener('mouseleave', () => { cursor.setAttribute('visibility', 'hidden'); tip.setAttribute('visibility', 'hidden'); });
}
`;
