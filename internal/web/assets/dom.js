// Small DOM and formatting helpers. Every text goes in through textContent
// or setAttribute, never as HTML, so nothing the API returns can inject markup.

export const $ = (id) => document.getElementById(id);

// h builds an element: h('td', {class: 'num'}, 'text', childNode, ...).
// Attributes starting with "on" are event listeners.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// replace empties el and fills it with children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export function badge(state) {
  return h('span', {class: 'badge st-' + state}, state);
}

export function fmtNum(v, digits = 2) {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  if (Number.isInteger(v)) return String(v);
  return String(+v.toFixed(digits));
}

// fmtAge renders seconds as "4s", "3m 10s", "2h 5m", "3d 4h".
export function fmtAge(s) {
  if (s === undefined || s === null || Number.isNaN(s)) return '–';
  s = Math.max(0, Math.round(s));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}

// fmtNs renders a time slice in nanoseconds: "5 ms", "500 µs", "1.5 s".
export function fmtNs(ns) {
  if (ns === undefined || ns === null) return '–';
  if (ns >= 1e9) return +(ns / 1e9).toFixed(3) + ' s';
  if (ns >= 1e6) return +(ns / 1e6).toFixed(3) + ' ms';
  if (ns >= 1e3) return +(ns / 1e3).toFixed(3) + ' µs';
  return ns + ' ns';
}

export function fmtTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit'});
}

// priorityText renders a priority as written: true/false or a level.
export function priorityText(p) {
  if (p === true) return 'boost (true)';
  if (p === false || p === 0 || p === undefined) return 'none';
  return 'level ' + p;
}

// debounce returns fn delayed until calls stop for ms.
export function debounce(fn, ms) {
  let t = 0;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

// list splits "a, b ,c" into ["a","b","c"].
export function list(s) {
  return s.split(',').map((x) => x.trim()).filter((x) => x !== '');
}
