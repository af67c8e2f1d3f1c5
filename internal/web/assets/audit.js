// The audit trail: strategy changes and refused writes, newest first.

import {$, h, replace, badge, fmtTime} from './dom.js';
import {get} from './api.js';

const MAX_PAGES = 5; // of 1000 records each

const st = {records: [], more: false, error: ''};

export function init() {
  $('audit-since').addEventListener('change', () => show());
  $('audit-outcome').addEventListener('change', render);
  $('audit-filter').addEventListener('submit', (e) => e.preventDefault());
}

export async function show() {
  const records = [];
  let since = $('audit-since').value, more = false;
  st.error = '';
  for (let page = 0; page < MAX_PAGES; page++) {
    let res;
    try {
      res = await get('/api/v1/audit?limit=1000&since=' + encodeURIComponent(since));
    } catch (e) {
      st.error = e.message;
      break;
    }
    records.push(...res.records);
    more = res.has_more;
    if (!more) break;
    since = res.next_since;
  }
  st.records = records.reverse();
  st.more = more;
  render();
}

function names(list) {
  return (list || []).map((d) => d.name).join(', ');
}

function change(r) {
  if (r.outcome === 'denied') {
    return [r.reason || '', r.suppressed ? h('span', {class: 'muted'}, ` (+${r.suppressed} more not recorded one by one)`) : null];
  }
  const c = r.change;
  if (!c) return '';
  let text;
  if (r.method === 'PUT') text = c.before_count ? 'replaced ' + names(c.after) : 'created ' + names(c.after);
  else if (r.method === 'DELETE') text = 'deleted ' + names(c.before);
  else text = `replaced ${c.before_count} strategies with ${c.after_count}` + (c.after_count ? ': ' + names(c.after) : '');
  return [text, h('details', {}, h('summary', {}, 'definitions'),
    h('pre', {}, 'before: ' + JSON.stringify(c.before, null, 1) + '\nafter: ' + JSON.stringify(c.after, null, 1) + (c.truncated ? '\n(truncated)' : '')))];
}

function render() {
  const outcome = $('audit-outcome').value;
  const rows = st.records.filter((r) => !outcome || r.outcome === outcome).map((r) => h('tr', {},
    h('td', {}, h('time', {datetime: r.at}, fmtTime(r.at))),
    h('td', {}, r.identity || '(unauthenticated)', h('br'), h('span', {class: 'muted'}, [r.role, r.credential].filter((x) => x).join(', '))),
    h('td', {class: 'mono'}, r.method + ' ' + r.path, h('br'), h('span', {class: 'muted'}, r.node + ' from ' + r.client)),
    h('td', {}, badge(r.outcome), ' ', String(r.status)),
    h('td', {}, change(r))));
  if (rows.length === 0) rows.push(h('tr', {}, h('td', {colspan: 5, class: st.error ? 'error' : 'empty'}, st.error || 'No records in this period.')));
  if (st.more) rows.push(h('tr', {}, h('td', {colspan: 5, class: 'muted'}, 'Only the oldest ' + MAX_PAGES * 1000 + ' records of this period are shown; choose a shorter period to see the newest.')));
  replace($('audit-table').tBodies[0], rows);
}
