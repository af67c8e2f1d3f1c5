// Strategies: the stored definitions with what each matches and wins, and
// for callers who may write them, a form that previews a strategy's
// matches before it can be saved.

import {$, h, replace, fmtNs, priorityText, list} from './dom.js';
import {api, get} from './api.js';

const PUT_ROUTE = 'PUT /api/v1/scheduling/strategies/definitions/{name}';
const DELETE_ROUTE = 'DELETE /api/v1/scheduling/strategies/definitions/{name}';
const PREVIEW_ROUTE = 'POST /api/v1/scheduling/strategies/preview';

const st = {defs: [], counts: new Map(), canEdit: false, canDelete: false, editing: null, previewed: null, setStatus: () => {}};

export function init(who, setStatus) {
  const allowed = new Set(who.allowed || []);
  st.canEdit = allowed.has(PUT_ROUTE) && allowed.has(PREVIEW_ROUTE);
  st.canDelete = allowed.has(DELETE_ROUTE);
  st.setStatus = setStatus;
  $('new-strategy').hidden = !st.canEdit;
  $('strategies-note').textContent = st.canEdit ? '' : 'Read-only: your role may not change strategies.';
  if (!st.canEdit) $('editor').hidden = true;
  $('new-strategy').addEventListener('click', () => openEditor(null));
  $('cancel').addEventListener('click', closeEditor);
  $('strategy-form').addEventListener('submit', (e) => {
    e.preventDefault();
    preview();
  });
  $('strategy-form').addEventListener('input', () => {
    st.previewed = null;
    $('save').disabled = true;
    updateHint();
  });
  $('save').addEventListener('click', save);
}

export async function show() {
  const [defs, explain] = await Promise.all([
    get('/api/v1/scheduling/strategies/definitions').catch((e) => e),
    get('/api/v1/scheduling/strategies/explain').catch((e) => e),
  ]);
  const body = $('strategies-table').tBodies[0];
  if (defs instanceof Error) {
    replace(body, h('tr', {}, h('td', {colspan: 8, class: 'error'}, defs.message)));
    return;
  }
  st.defs = defs.strategies;
  st.counts = explain instanceof Error ? new Map() : new Map(explain.strategies.map((c) => [c.name, c]));
  render();
}

// targets summarises what a strategy's conditions select.
function targets(d) {
  const t = [];
  if (d.pid) t.push('pid ' + d.pid);
  if (d.command_regex) t.push('command ~ ' + d.command_regex);
  if (d.namespaces && d.namespaces.length) t.push('namespaces ' + d.namespaces.join(', '));
  if (d.selectors && d.selectors.length) t.push('labels ' + d.selectors.map((x) => x.key + '=' + x.value).join(', '));
  if (d.label_selector) t.push('selector ' + JSON.stringify(d.label_selector));
  if (d.nodes && d.nodes.length) t.push('on ' + d.nodes.join(', '));
  if (d.threads) t.push('with threads');
  return t.map((x) => h('span', {class: 'chip mono'}, x));
}

function render() {
  const rows = st.defs.map((d, i) => {
    const c = st.counts.get(d.name);
    const actions = [];
    if (st.canEdit && !d.unreadable) {
      actions.push(h('button', {type: 'button', class: 'secondary', 'aria-label': 'Edit ' + d.name, onclick: () => openEditor(d)}, 'Edit'));
    }
    if (st.canDelete) {
      const del = h('button', {type: 'button', class: 'secondary', 'aria-label': 'Delete ' + d.name}, 'Delete');
      del.addEventListener('click', () => confirmDelete(del, d.name));
      actions.push(del);
    }
    if (d.unreadable) {
      return h('tr', {'data-name': d.name}, h('td', {class: 'num'}, i + 1), h('td', {}, h('strong', {}, d.name)),
        h('td', {colspan: 5, class: 'error'}, 'not applied: ' + d.unreadable), h('td', {}, h('div', {class: 'actions'}, actions)));
    }
    return h('tr', {'data-name': d.name},
      h('td', {class: 'num'}, i + 1),
      h('td', {}, h('strong', {}, d.name)),
      h('td', {}, h('span', {class: 'chips'}, targets(d))),
      h('td', {}, priorityText(d.priority)),
      h('td', {class: 'num'}, fmtNs(d.execution_time)),
      h('td', {class: 'num'}, c ? c.matched : '–'),
      h('td', {class: 'num'}, c ? c.won : '–'),
      h('td', {}, actions.length ? h('div', {class: 'actions'}, actions) : ''));
  });
  if (rows.length === 0) rows.push(h('tr', {}, h('td', {colspan: 8, class: 'empty'}, 'No strategies are stored.')));
  replace($('strategies-table').tBodies[0], rows);
}

// confirmDelete asks for a second click before it deletes.
async function confirmDelete(btn, name) {
  if (btn.dataset.armed !== '1') {
    btn.dataset.armed = '1';
    btn.textContent = 'Confirm delete';
    btn.className = 'danger';
    return;
  }
  try {
    await api('DELETE', '/api/v1/scheduling/strategies/definitions/' + encodeURIComponent(name));
    st.setStatus('Deleted strategy ' + name + '.');
    await show();
  } catch (e) {
    st.setStatus('Delete ' + name + ': ' + e.message);
  }
}

function openEditor(def) {
  if (!st.canEdit) return;
  st.editing = def ? def.name : null;
  st.previewed = null;
  $('editor-h').textContent = def ? 'Edit strategy ' + def.name : 'New strategy';
  const d = def || {priority: 1, execution_time: 5000000};
  $('f-name').value = d.name || '';
  $('f-name').readOnly = !!def;
  $('f-priority').value = d.priority === true ? 1 : d.priority === false ? 0 : d.priority;
  $('f-exec').value = d.execution_time;
  $('f-pid').value = d.pid || '';
  $('f-regex').value = d.command_regex || '';
  $('f-ns').value = (d.namespaces || []).join(', ');
  $('f-labels').value = (d.selectors || []).map((x) => x.key + '=' + x.value).join(', ');
  $('f-nodes').value = (d.nodes || []).join(', ');
  $('f-selector').value = d.label_selector ? JSON.stringify(d.label_selector) : '';
  $('f-threads').checked = !!d.threads;
  $('save').disabled = true;
  $('editor-error').textContent = '';
  $('preview-out').replaceChildren();
  updateHint();
  $('editor').hidden = false;
  $(def ? 'f-priority' : 'f-name').focus();
}

function closeEditor() {
  $('editor').hidden = true;
  st.editing = null;
  st.previewed = null;
}

function updateHint() {
  const v = Number($('f-exec').value);
  $('f-exec-hint').textContent = v > 0 ? '= ' + fmtNs(v) : '';
}

// fromForm reads the form into a strategy (without its name), or throws
// a message naming the field.
function fromForm() {
  const s = {priority: Number($('f-priority').value), execution_time: Number($('f-exec').value)};
  if ($('f-pid').value !== '') s.pid = Number($('f-pid').value);
  if ($('f-regex').value !== '') s.command_regex = $('f-regex').value;
  const ns = list($('f-ns').value);
  if (ns.length) s.namespaces = ns;
  const labels = list($('f-labels').value);
  if (labels.length) {
    s.selectors = labels.map((kv) => {
      const i = kv.indexOf('=');
      if (i <= 0) throw new Error('Labels: write each as key=value, got "' + kv + '"');
      return {key: kv.slice(0, i).trim(), value: kv.slice(i + 1).trim()};
    });
  }
  const nodes = list($('f-nodes').value);
  if (nodes.length) s.nodes = nodes;
  const sel = $('f-selector').value.trim();
  if (sel) {
    try {
      s.label_selector = JSON.parse(sel);
    } catch (e) {
      throw new Error('Label selector: not JSON: ' + e.message);
    }
  }
  if ($('f-threads').checked) s.threads = true;
  return s;
}

// preview resolves the stored list with this strategy in it (in its place
// when edited, last when new) and shows what it would match and win.
async function preview() {
  const out = $('preview-out');
  $('editor-error').textContent = '';
  $('save').disabled = true;
  const name = $('f-name').value.trim();
  let s;
  try {
    if (!name) throw new Error('Name: required');
    s = fromForm();
  } catch (e) {
    $('editor-error').textContent = e.message;
    return;
  }
  const mine = {name, ...s};
  const others = st.defs.filter((d) => !d.unreadable);
  const at = others.findIndex((d) => d.name === name);
  const strategies = at >= 0 ? others.map((d, i) => (i === at ? mine : d)) : [...others, mine];
  let res;
  try {
    res = await api('POST', '/api/v1/scheduling/strategies/preview', {strategies});
  } catch (e) {
    $('editor-error').textContent = e.message;
    out.replaceChildren();
    return;
  }
  const c = res.strategies.find((x) => x.name === name) || {matched: 0, won: 0};
  const won = res.scheduling.filter((e) => e.strategy === name);
  const rows = won.map((e) => h('tr', {},
    h('td', {class: 'num mono'}, e.pid), h('td', {class: 'mono'}, e.command),
    h('td', {}, (e.namespace ? e.namespace + '/' : '') + (e.pod_name || '(outside pods)')), h('td', {}, e.container_name)));
  const stamped = (res.stamped || []).find((x) => x.strategy === name);
  replace(out,
    h('h3', {}, 'Preview'),
    h('p', {id: 'preview-summary'}, `${name} would match ${c.matched} PID${c.matched === 1 ? '' : 's'} and win ${c.won}` +
      (c.matched > c.won ? ' (earlier strategies take the others)' : '') + '. Nothing is saved yet.'),
    stamped ? h('p', {class: 'muted'}, 'Saving adds nodes: ' + stamped.nodes.join(', ')) : null,
    won.length ? h('div', {class: 'scroll', tabindex: 0, role: 'region', 'aria-label': 'PIDs the strategy would win'},
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'PID'), h('th', {scope: 'col'}, 'Command'), h('th', {scope: 'col'}, 'Pod'), h('th', {scope: 'col'}, 'Container'))),
        h('tbody', {}, rows))) : null);
  st.previewed = {name, body: s};
  $('save').disabled = false;
}

async function save() {
  const p = st.previewed;
  if (!p) return;
  $('save').disabled = true;
  try {
    await api('PUT', '/api/v1/scheduling/strategies/definitions/' + encodeURIComponent(p.name), p.body);
  } catch (e) {
    $('editor-error').textContent = e.message;
    return;
  }
  closeEditor();
  st.setStatus('Saved strategy ' + p.name + '.');
  await show();
}
