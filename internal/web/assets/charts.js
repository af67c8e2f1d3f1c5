// Hand-written SVG line charts: a time axis, a value axis from zero, one
// line per series. Colours come from CSS classes (s0…s5), so they follow
// the light or dark theme.

import {h, fmtNum} from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 560, H = 190, L = 46, R = 10, T = 10, B = 24;
const MAX_POINTS = 600;

function s(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function timeLabel(ms, span) {
  const d = new Date(ms);
  const opts = span > 86400e3 ? {month: 'short', day: 'numeric', hour: '2-digit'} :
    span > 3600e3 ? {hour: '2-digit', minute: '2-digit'} : {hour: '2-digit', minute: '2-digit', second: '2-digit'};
  return d.toLocaleTimeString(undefined, opts);
}

// thin keeps at most MAX_POINTS points, keeping each stride's largest
// value so that spikes stay visible.
function thin(points) {
  if (points.length <= MAX_POINTS) return points;
  const k = Math.ceil(points.length / MAX_POINTS);
  const out = [];
  for (let i = 0; i < points.length; i += k) {
    let best = points[i];
    for (let j = i + 1; j < Math.min(i + k, points.length); j++) if (points[j][1] > best[1]) best = points[j];
    out.push(best);
  }
  return out;
}

// runs splits points where the time between two is much longer than
// usual (five times the median, and at least 10 s), so that a time
// without samples shows as a gap, not as a line across it.
function runs(points) {
  if (points.length < 3) return [points];
  const gaps = points.slice(1).map((p, i) => p[0] - points[i][0]).sort((a, b) => a - b);
  const limit = Math.max(5 * gaps[Math.floor(gaps.length / 2)], 10000);
  const out = [[points[0]]];
  for (let i = 1; i < points.length; i++) {
    if (points[i][0] - points[i - 1][0] > limit) out.push([]);
    out[out.length - 1].push(points[i]);
  }
  return out;
}

// lineChart draws series [{name, points: [[ms, value], ...]}] over
// [t0, t1] into container, with a legend of each series' latest value.
export function lineChart(container, title, series, t0, t1, unit = '') {
  const span = Math.max(t1 - t0, 1);
  let max = 0;
  for (const se of series) for (const p of se.points) if (p[1] > max) max = p[1];
  const ymax = niceMax(max);
  const x = (ms) => L + ((ms - t0) / span) * (W - L - R);
  const y = (v) => T + (1 - v / ymax) * (H - T - B);

  const latest = series.map((se) => (se.points.length ? se.points[se.points.length - 1][1] : undefined));
  const label = title + ': ' + series.map((se, i) => se.name + ' ' + fmtNum(latest[i]) + unit).join(', ');
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label});
  svg.append(s('title', {}, label));
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    svg.append(s('line', {class: i === 0 ? 'axis' : 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v)}));
    svg.append(s('text', {x: L - 6, y: y(v) + 4, 'text-anchor': 'end'}, fmtNum(v)));
  }
  for (let i = 0; i <= 3; i++) {
    const ms = t0 + (span * i) / 3;
    const anchor = i === 0 ? 'start' : i === 3 ? 'end' : 'middle';
    svg.append(s('text', {x: x(ms), y: H - 6, 'text-anchor': anchor}, timeLabel(ms, span)));
  }
  let any = false;
  series.forEach((se, i) => {
    const pts = thin(se.points.filter((p) => p[0] >= t0 && p[0] <= t1));
    if (pts.length === 0) return;
    any = true;
    for (const run of runs(pts)) {
      if (run.length === 1) {
        svg.append(s('circle', {class: 'line s' + i, cx: x(run[0][0]), cy: y(run[0][1]), r: 2.5}));
      } else {
        svg.append(s('polyline', {class: 'line s' + i, points: run.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' ')}));
      }
    }
  });
  if (!any) {
    svg.append(s('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle'}, 'no samples in this window'));
  }
  const legend = h('ul', {class: 'legend'},
    series.map((se, i) => h('li', {class: 'k' + i}, h('span', {}, se.name + ': ' + fmtNum(latest[i]) + unit))));
  container.replaceChildren(svg, legend);
}
