// Pods and their processes, with the strategy that won each PID and why.

import {$, h, replace, fmtNs, priorityText, debounce} from './dom.js';
import {get} from './api.js';

const st = {pods: [], explain: null, resolved: null, defs: null, error: '', notes: []};

export function init() {
  const rerender = () => render();
  $('pods-search').addEventListener('input', debounce(rerender, 150));
  $('pods-ns').addEventListener('change', rerender);
  $('pods-targeted').addEventListener('change', rerender);
  $('pods-labels').addEventListener('input', debounce(() => show(), 400));
  $('pods-filter').addEventListener('submit', (e) => e.preventDefault());
}

export async function show() {
  const sel = $('pods-labels').value.trim();
  const q = sel ? '?label_selector=' + encodeURIComponent(sel) : '';
  const [pods, explain, resolved, defs] = await Promise.all([
    get('/api/v1/pods/pids' + q).catch((e) => e),
    get('/api/v1/scheduling/strategies/explain').catch((e) => e),
    get('/api/v1/scheduling/strategies?verbose=true').catch((e) => e),
    get('/api/v1/scheduling/strategies/definitions').catch((e) => e),
  ]);
  st.error = pods instanceof Error ? pods.message : '';
  st.pods = pods instanceof Error ? [] : pods.pods;
  st.notes = [];
  st.explain = null;
  if (explain instanceof Error) st.notes.push('Why: ' + explain.message);
  else st.explain = new Map(explain.pids.map((p) => [p.pid, p]));
  st.resolved = null;
  if (resolved instanceof Error) st.notes.push('Resolved strategies: ' + resolved.message);
  else st.resolved = new Map(resolved.scheduling.map((e) => [e.pid, e]));
  st.defs = defs instanceof Error ? null : new Map(defs.strategies.map((d, i) => [d.name, {...d, index: i}]));
  const ns = $('pods-ns'), cur = ns.value;
  const names = [...new Set(st.pods.map((p) => p.namespace).filter((n) => n))].sort();
  replace(ns, h('option', {value: ''}, 'All'), names.map((n) => h('option', {value: n}, n)));
  ns.value = names.includes(cur) ? cur : '';
  render();
}

// why explains in words which rule made the winner win.
function why(ex) {
  if (!ex) return '';
  const def = st.defs && st.defs.get(ex.winner);
  const others = ex.matched.filter((n) => n !== ex.winner);
  let text;
  if (def && def.pid) text = 'explicit PID strategy (wins over selector strategies)';
  else if (others.length) text = 'first matching strategy in list order';
  else text = 'the only strategy that matches';
  if (others.length) text += '; also matched: ' + others.join(', ');
  return text;
}

// winnerPriority is the winner's priority as written (a level), which the
// scheduler may be sent as a bool (--priority-format).
function winnerPriority(ex, res) {
  const def = ex && st.defs && st.defs.get(ex.winner);
  return def ? def.priority : res.priority;
}

function matches(p, proc, needle) {
  if (!needle) return true;
  const ex = st.explain && st.explain.get(proc.pid);
  const hay = [p.pod_name, p.namespace, p.pod_uid, proc.command, String(proc.pid), proc.container_name,
    ex ? ex.matched.join(' ') : '', ...Object.entries(p.labels || {}).map(([k, v]) => k + '=' + v)].join(' ').toLowerCase();
  return hay.includes(needle);
}

function render() {
  const needle = $('pods-search').value.trim().toLowerCase();
  const ns = $('pods-ns').value, targeted = $('pods-targeted').value;
  const rows = [];
  let shownPods = 0, shownProcs = 0, total = 0;
  for (const p of st.pods) {
    total += p.processes.length;
    if (ns && p.namespace !== ns) continue;
    const procs = p.processes.filter((proc) => {
      const won = st.resolved && st.resolved.has(proc.pid);
      if (targeted === 'targeted' && !won) return false;
      if (targeted === 'untargeted' && won) return false;
      return matches(p, proc, needle);
    });
    if (procs.length === 0) continue;
    shownPods++;
    shownProcs += procs.length;
    const labels = Object.entries(p.labels || {}).map(([k, v]) => h('span', {class: 'chip'}, k + '=' + v));
    rows.push(h('tr', {class: 'pod'}, h('th', {colspan: 7, scope: 'colgroup'},
      (p.namespace ? p.namespace + '/' : '') + (p.pod_name || '(unknown pod)'), ' ',
      h('span', {class: 'muted mono'}, p.pod_uid), ' ',
      p.qos_class ? h('span', {class: 'muted'}, p.qos_class) : null, ' ',
      h('span', {class: 'chips'}, labels))));
    for (const proc of procs) {
      const ex = st.explain && st.explain.get(proc.pid);
      const res = st.resolved && st.resolved.get(proc.pid);
      const sandbox = (p.containers || []).some((c) => c.sandbox && c.container_id === proc.container_id);
      rows.push(h('tr', {'data-pid': proc.pid},
        h('td', {class: 'num mono'}, proc.pid),
        h('td', {class: 'mono'}, proc.command),
        h('td', {}, proc.container_name || (sandbox ? '(sandbox)' : '')),
        h('td', {}, ex ? h('strong', {}, ex.winner) : h('span', {class: 'muted'}, '—')),
        h('td', {}, ex ? why(ex) : sandbox ? h('span', {class: 'muted'}, 'sandbox: never targeted by selectors') : ''),
        h('td', {}, res ? priorityText(winnerPriority(ex, res)) : ''),
        h('td', {class: 'num'}, res ? fmtNs(res.execution_time) : '')));
    }
  }
  if (rows.length === 0) {
    rows.push(h('tr', {}, h('td', {colspan: 7, class: 'empty'}, st.error || (st.pods.length ? 'No process matches the filters.' : 'No pods on this node.'))));
  }
  replace($('pods-table').tBodies[0], rows);
  const summary = `${shownPods} of ${st.pods.length} pods, ${shownProcs} of ${total} processes shown.`;
  replace($('pods-summary'), summary, st.notes.length ? h('span', {class: 'error'}, ' ' + st.notes.join(' ')) : null);
}
