// Overview: the health of each component, and charts of the scheduler's
// metrics over a chosen window, refreshed every few seconds while shown.

import {$, h, replace, badge, fmtNum, fmtAge} from './dom.js';
import {get, ApiError} from './api.js';
import {lineChart} from './charts.js';

const REFRESH_MS = 5000;
const MAX_PAGES = 5; // of 10000 samples each
const COUNTERS = ['nr_user_dispatches', 'nr_kernel_dispatches', 'nr_cancel_dispatches', 'nr_bounce_dispatches', 'nr_failed_dispatches', 'nr_sched_congested'];
const WINDOWS = {'5m': 300, '15m': 900, '1h': 3600, '6h': 21600, '24h': 86400};

// state of the view: the samples of the window, oldest first.
const st = {samples: [], window: '15m', timer: 0, tick: 0, lastPush: null, shown: false, loading: null};

export function init() {
  $('window').addEventListener('change', () => {
    st.window = $('window').value;
    st.samples = [];
    st.loading = null; // a load of the old window still running gives up
    refresh();
  });
  $('live').addEventListener('change', schedule);
  document.addEventListener('visibilitychange', schedule);
}

export function show() {
  st.shown = true;
  return refresh();
}

export function hide() {
  st.shown = false;
  schedule();
}

function schedule() {
  clearTimeout(st.timer);
  clearInterval(st.tick);
  if (!st.shown || !$('live').checked || document.hidden) return;
  st.timer = setTimeout(refresh, REFRESH_MS);
  st.tick = setInterval(renderPushAge, 1000);
}

// refresh loads everything once; concurrent calls share one load.
function refresh() {
  if (!st.loading) {
    st.loading = Promise.all([loadHealth(), loadMetrics()]).finally(() => {
      st.loading = null;
      schedule();
    });
  }
  return st.loading;
}

async function loadHealth() {
  const box = $('health');
  try {
    const res = await get('/health', [503]);
    const comps = Object.entries(res.components || {}).sort((a, b) => a[0].localeCompare(b[0]));
    const cards = [h('div', {class: 'card'}, h('h3', {}, 'service', badge(res.status)),
      h('p', {}, (res.service || '') + (res.version ? ' ' + res.version : '')))];
    for (const [name, c] of comps) {
      cards.push(h('div', {class: 'card', 'data-component': name},
        h('h3', {}, name, badge(c.status)), h('p', {}, c.detail || '')));
    }
    if (comps.length === 0) cards.push(h('div', {class: 'card'}, h('p', {}, 'Component details need the viewer role.')));
    replace(box, cards);
  } catch (e) {
    replace(box, h('p', {class: 'error'}, 'Health: ' + e.message));
  }
}

function ms(iso) {
  return Date.parse(iso);
}

async function loadMetrics() {
  const w = st.window;
  const since = Date.now() - WINDOWS[w] * 1000;
  const [summary] = await Promise.all([
    get('/api/v1/metrics/summary?window=' + w).catch((e) => e),
    loadLatest(),
    loadHistory(w),
  ]);
  if (w !== st.window) return;
  st.samples = st.samples.filter((x) => ms(x.received_at) >= since);
  renderStats(summary);
  renderCharts(since, Date.now());
}

async function loadLatest() {
  try {
    const res = await get('/api/v1/metrics');
    st.lastPush = ms(res.metrics.received_at);
  } catch (e) {
    st.lastPush = e instanceof ApiError && e.status === 404 ? null : st.lastPush;
  }
}

// loadHistory appends the samples received since the last one held (the
// first time: the whole window), page by page.
async function loadHistory(w) {
  const held = st.samples.length ? st.samples[st.samples.length - 1].received_at : null;
  let since = held || w;
  for (let page = 0; page < MAX_PAGES; page++) {
    let res;
    try {
      res = await get('/api/v1/metrics/history?limit=10000&since=' + encodeURIComponent(since));
    } catch (e) {
      st.historyError = e.message;
      return;
    }
    st.historyError = '';
    if (w !== st.window) return;
    for (const x of res.samples) {
      if (x.received_at !== held) st.samples.push(x);
    }
    if (!res.has_more) return;
    since = res.next_since;
  }
}

function stat(label, value, note) {
  return h('div', {class: 'card'}, h('h3', {}, label), h('div', {class: 'v'}, value), note ? h('p', {}, note) : null);
}

function renderStats(summary) {
  const cards = [];
  const age = st.lastPush === null ? null : (Date.now() - st.lastPush) / 1000;
  cards.push(h('div', {class: 'card'}, h('h3', {}, 'Last push'),
    h('div', {class: 'v', id: 'push-age'}, age === null ? 'never' : fmtAge(age) + ' ago')));
  if (summary instanceof Error) {
    cards.push(h('div', {class: 'card'}, h('p', {class: 'error'}, 'Summary: ' + summary.message)));
  } else {
    const r = summary.rates || {}, g = summary.gauges || {};
    const rate = (k) => (k in r ? fmtNum(r[k]) + '/s' : '–');
    cards.push(stat('Samples', String(summary.samples), 'in the last ' + summary.window + (summary.resets ? ', ' + summary.resets + ' restarts' : '')));
    cards.push(stat('User dispatches', rate('nr_user_dispatches'), 'kernel ' + rate('nr_kernel_dispatches')));
    cards.push(stat('Congestion', rate('nr_sched_congested'), 'failed ' + rate('nr_failed_dispatches')));
    const q = g.nr_queued;
    cards.push(stat('Queued', q ? fmtNum(q.avg) : '–', q ? 'min ' + fmtNum(q.min) + ', max ' + fmtNum(q.max) : 'no samples'));
  }
  if (st.historyError) cards.push(h('div', {class: 'card'}, h('p', {class: 'error'}, 'History: ' + st.historyError)));
  replace($('stats'), cards);
}

function renderPushAge() {
  const el = $('push-age');
  if (el && st.lastPush !== null) el.textContent = fmtAge((Date.now() - st.lastPush) / 1000) + ' ago';
}

// rates turns consecutive counter samples into per-second rates. A counter
// that went down, or a new scheduler PID, is a restart: the increase is
// then the new value, as the summary counts it. Samples closer than 100 ms
// (one batch) are taken together.
function rates(samples) {
  const out = Object.fromEntries(COUNTERS.map((k) => [k, []]));
  const pushAge = [];
  let prev = null;
  for (const x of samples) {
    const t = ms(x.received_at);
    if (prev) {
      const dt = (t - prev.t) / 1000;
      if (dt < 0.1) continue;
      const restart = x.usersched_pid !== prev.x.usersched_pid;
      for (const k of COUNTERS) {
        const inc = restart || x[k] < prev.x[k] ? x[k] : x[k] - prev.x[k];
        out[k].push([t, inc / dt]);
      }
      pushAge.push([t, dt]);
    }
    prev = {t, x};
  }
  return {out, pushAge};
}

function renderCharts(t0, t1) {
  const xs = st.samples;
  const gauge = (k) => xs.map((x) => [ms(x.received_at), x[k]]);
  lineChart($('chart-queue'), 'Queue depth', [
    {name: 'queued', points: gauge('nr_queued')},
    {name: 'scheduled', points: gauge('nr_scheduled')},
    {name: 'running', points: gauge('nr_running')},
  ], t0, t1);
  const {out, pushAge} = rates(xs);
  lineChart($('chart-dispatch'), 'Dispatch rates', [
    {name: 'user', points: out.nr_user_dispatches},
    {name: 'kernel', points: out.nr_kernel_dispatches},
    {name: 'cancel', points: out.nr_cancel_dispatches},
    {name: 'bounce', points: out.nr_bounce_dispatches},
    {name: 'failed', points: out.nr_failed_dispatches},
  ], t0, t1, '/s');
  lineChart($('chart-congestion'), 'Congestion', [{name: 'congested', points: out.nr_sched_congested}], t0, t1, '/s');
  if (st.lastPush !== null && st.lastPush >= t0) pushAge.push([t1, (t1 - st.lastPush) / 1000]);
  lineChart($('chart-push'), 'Push age', [{name: 'age', points: pushAge}], t0, t1, ' s');
}
