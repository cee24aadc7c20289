// The viewer's script, part 3: the query, compare and trace pages.

extension AppScript {
    static let otherPages = #"""
// ---- query -----------------------------------------------------------------------------------

const EXAMPLES = [
  ['strongest token → logit paths', g => `USE '${g}'\nMATCH p = (t:Token)-[*1..4]->(l:Logit)\nRETURN t.token AS token, l.token AS logit, nodes(p) AS path, strength(p) AS strength\nORDER BY strength DESC LIMIT 5`],
  ['most influential features', g => `USE '${g}'\nMATCH (f:Feature)\nRETURN f, f.layer AS layer, f.influence AS influence\nORDER BY influence DESC LIMIT 10`],
  ['inputs of the top logit', g => `USE '${g}'\nMATCH (source)-[r]->(l:Logit)\nWHERE r.share > 0.05\nRETURN l.token AS logit, source, r.share AS share\nORDER BY share DESC LIMIT 20`],
  ['error outflow', g => `USE '${g}'\nMATCH (e:Error)-[r]->(target)\nRETURN e, sum(abs(r.weight)) AS outflow\nORDER BY outflow DESC LIMIT 10`],
  ['features that recur across graphs', g => `MATCH (f:Feature)\nRETURN f.layer AS layer, f.feature AS feature, count(DISTINCT f.graph) AS graphs\nORDER BY graphs DESC, layer, feature LIMIT 10`],
];

async function showQuery() {
  let graphs = [];
  const nav = state.nav;
  try { graphs = await api('/api/graphs'); } catch (e) { if (nav === state.nav) setMain(message(e.message)); return; }
  if (nav !== state.nav) return;
  const first = (state.graphKey && graphs.find(g => g.slug === state.graphKey)) || graphs[0];
  const slug = first ? first.slug : 'graph';
  const text = el('textarea', { id: 'query-text', rows: 8, spellcheck: 'false' });
  text.value = state.queryText || EXAMPLES[0][1](slug);
  const examples = el('select', { id: 'query-examples' }, el('option', { value: '' }, 'examples…'), EXAMPLES.map(([name], k) => el('option', { value: k }, name)));
  examples.addEventListener('change', () => { if (examples.value !== '') text.value = EXAMPLES[Number(examples.value)][1](slug); });
  const target = el('select', { id: 'query-graph' }, graphs.map(g => el('option', { value: g.slug, selected: g.slug === slug }, g.slug)));
  const out = el('div', { id: 'query-result' });
  const run = el('button', { id: 'query-run', onclick: async () => {
    state.queryText = text.value;
    out.replaceChildren(el('p', { class: 'message info' }, 'running…'));
    try {
      const r = await api('/api/query', { method: 'POST', body: { query: text.value } });
      state.lastQuery = r;
      const names = new Set();
      for (const row of r.rows) for (const cell of row) { if (Array.isArray(cell)) cell.forEach(c => names.add(String(c))); else if (typeof cell === 'string') names.add(cell); }
      out.replaceChildren(
        el('p', { class: 'facts' }, `${r.rows.length} row(s) in ${fmt(r.milliseconds, 0)} ms `,
          el('button', { id: 'query-show', onclick: () => { state.pendingHighlight = names; location.hash = '#/graph/' + enc(target.value); } }, 'highlight in graph'), ' ', target),
        el('table', { class: 'list', id: 'query-table' }, el('thead', {}, el('tr', {}, r.columns.map(c => el('th', {}, c)))),
          el('tbody', {}, r.rows.map(row => el('tr', {}, row.map(cell => el('td', {}, Array.isArray(cell) ? cell.map(c => visible(typeof c === 'number' ? fmt(c, 4) : c)).join(' → ') : typeof cell === 'number' ? fmt(cell, 4) : visible(cell))))))));
    } catch (e) { out.replaceChildren(message(e.message)); }
  } }, 'run (Ctrl+Enter)');
  text.addEventListener('keydown', e => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run.click(); });
  setMain(el('h1', {}, 'Query'), el('p', { class: 'hint' }, 'CircuitQL (Cypher-style). Whole nodes in the results (f, source, nodes(p)) are highlighted in the graph you choose.'),
    el('div', { class: 'toolbar' }, examples), text, el('div', { class: 'toolbar' }, run), out);
}

// ---- compare ---------------------------------------------------------------------------------

async function showCompare() {
  let graphs = [];
  const nav = state.nav;
  try { graphs = await api('/api/graphs'); } catch (e) { if (nav === state.nav) setMain(message(e.message)); return; }
  if (nav !== state.nav) return;
  const boxes = graphs.map(g => el('label', { class: 'check' }, el('input', { type: 'checkbox', value: g.slug, class: 'compare-pick' }), ' ', g.slug, el('span', { class: 'small' }, ' ' + visible(g.prompt))));
  const out = el('div', { id: 'compare-result' });
  const go = el('button', { id: 'compare-run', onclick: async () => {
    const picked = boxes.map(b => b.querySelector('input')).filter(i => i.checked).map(i => i.value);
    if (picked.length < 2) { out.replaceChildren(message('pick at least two graphs')); return; }
    out.replaceChildren(el('p', { class: 'message info' }, 'comparing…'));
    try {
      const r = await api('/api/compare?graphs=' + enc(picked.join(',')));
      out.replaceChildren(compareReport(r, picked));
    } catch (e) { out.replaceChildren(message(e.message)); }
  } }, 'compare');
  setMain(el('h1', {}, 'Compare'), el('div', { class: 'picks' }, boxes), el('div', { class: 'toolbar' }, go), out);
}

function compareReport(r, picked) {
  const colors = ['#fdb863', '#b2abd2', '#a6dba0', '#f1b6da', '#e6e6a0', '#80cdc1']; // as the difference graph's fills
  const metrics = [];
  for (const [k, v] of Object.entries(r)) if (typeof v === 'number' || v === null) metrics.push(el('tr', {}, el('th', {}, k.replace(/_/g, ' ')), el('td', { class: 'num' }, fmt(v))));
  const parts = [el('h2', {}, 'metrics'), el('table', { class: 'list metrics', id: 'compare-metrics' }, el('tbody', {}, metrics))];
  const colorOf = new Map((r.graphs || []).map((g, k) => [g.slug, colors[k % colors.length]]));
  parts.push(el('ul', { class: 'legend' }, (r.graphs || []).map(g => { const sw = el('span', { class: 'swatch' }); sw.style.backgroundColor = colorOf.get(g.slug);
    return el('li', {}, sw, ` ${g.slug}: ${g.features} features, ${g.nodes} nodes, ${g.edges} edges`); })));
  const shared = r.shared_features || [];
  parts.push(el('h3', {}, `shared features (${shared.length})`), el('table', { class: 'list', id: 'compare-shared' },
    el('thead', {}, el('tr', {}, el('th', {}, 'feature'), (r.graphs || []).map(g => el('th', {}, 'influence in ' + g.slug)))),
    el('tbody', {}, shared.slice(0, 50).map(s => el('tr', {}, el('td', { class: 'shared' }, `L${s.layer}/F${s.feature}`), s.influence.map(x => el('td', { class: 'num' }, fmt(x, 4))))))));
  for (const [slug, list] of Object.entries(r.unique_features || {})) {
    const head = el('h3', {}, `only in ${slug} (${list.length})`); head.style.color = colorOf.get(slug) || '';
    parts.push(head, el('p', { class: 'own' }, list.slice(0, 40).map(u => { const t = el('span', { class: 'tok' }, `L${u.layer}/F${u.feature}`); t.style.borderLeft = '3px solid ' + (colorOf.get(slug) || '#999'); return t; })));
  }
  if (r.recurrence && r.recurrence.length) parts.push(el('h3', {}, 'recurring features'), el('table', { class: 'list' }, el('tbody', {},
    r.recurrence.slice(0, 20).map(x => el('tr', {}, el('td', {}, `L${x.layer}/F${x.feature}`), el('td', { class: 'num' }, `${x.graphs} graphs`), el('td', { class: 'num' }, fmt(x.mean_influence, 4)))))));
  parts.push(el('h2', {}, 'difference graph: shared dark grey, each graph\'s own in its colour'), el('img', { src: '/api/compare.svg?graphs=' + enc(picked.join(',')), alt: 'difference graph', class: 'diff', id: 'compare-svg' }));
  return el('div', {}, parts);
}

// ---- trace -----------------------------------------------------------------------------------

async function showTrace() {
  const promptBox = el('input', { type: 'text', id: 'trace-prompt', placeholder: 'The capital of Texas is', size: 60 });
  const slugBox = el('input', { type: 'text', id: 'trace-slug', placeholder: 'slug (optional)', size: 24 });
  const status = el('div', { id: 'trace-status' });
  const start = el('button', { id: 'trace-start', onclick: async () => {
    try { await api('/api/trace', { method: 'POST', body: { prompt: promptBox.value, slug: slugBox.value || null } }); poll(); } catch (e) { status.replaceChildren(message(e.message)); }
  } }, 'trace');
  const cancel = el('button', { id: 'trace-cancel', onclick: async () => { try { await api('/api/trace', { method: 'DELETE' }); } catch (e) { flash(e.message, 'error'); } } }, 'cancel');
  setMain(el('h1', {}, 'Trace'), el('p', { class: 'hint' }, 'Runs `circuitry trace` on the server, one prompt at a time; the graph joins the store when it finishes.'),
    el('div', { class: 'toolbar' }, promptBox, slugBox, start, cancel), status);
  async function poll() {
    if (document.body.dataset.page !== 'trace') return;
    let s;
    try { s = await api('/api/trace'); } catch (e) { status.replaceChildren(message(e.message)); return; }
    status.dataset.state = s.state;
    status.replaceChildren(
      el('p', {}, `state: ${s.state}`, s.prompt ? ` — "${visible(s.prompt)}"` : '', s.seconds ? ` (${fmt(s.seconds, 1)} s)` : ''),
      s.progress && s.state === 'running' ? el('pre', { class: 'progress' }, s.progress) : null,
      s.error ? message(s.error) : null,
      s.state === 'done' && s.slug ? el('p', {}, 'saved: ', el('a', { href: '#/graph/' + enc(s.slug), id: 'trace-result' }, s.slug)) : null,
      s.available ? null : message('this viewer cannot trace (no model was given to `circuitry serve`)'));
    if (s.state === 'running') setTimeout(poll, 500);
  }
  poll();
}

"""#
}
