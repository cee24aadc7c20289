// The viewer's script (served as /app.js): plain DOM code written for Circuitry, no libraries.
// Check its syntax after editing with `scripts/check-viewer-script.sh` (node --check).

enum AppScript {
    static let source = #"""
// Circuitry's graph viewer. Plain DOM code, no libraries. Every text that comes from the store
// (prompts, tokens, labels, queries' values) is inserted as text, never as HTML.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const state = {
  token: null, info: null,
  graphKey: null, view: null, byIndex: new Map(), selected: null,
  pinned: new Set(), supernodes: [], subgraph: 'default', highlight: new Set(),
  edgesShown: 1500, search: '', layout: new Map(), saving: null,
};
window.circuitry = state;

// ---- small helpers ---------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function sv(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  return e;
}

function fmt(x, digits = 3) {
  if (x === null || x === undefined) return '—';
  if (typeof x !== 'number') return String(x);
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)) return x.toExponential(2);
  return x.toFixed(digits);
}

// Control characters shown as escapes, so a token like "\n" stays visible.
function visible(text) {
  return String(text ?? '').replace(/[\u0000-\u001f\u007f]/g, c => c === '\n' ? '\\n' : c === '\t' ? '\\t' : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

async function api(path, options = {}) {
  const headers = {};
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (options.method && options.method !== 'GET' && state.token) headers['X-Circuitry-Token'] = state.token;
  const response = await fetch(path, { method: options.method || 'GET', headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const type = response.headers.get('content-type') || '';
  const data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) throw new Error((data && data.error) || ('HTTP ' + response.status));
  return data;
}

function enc(s) { return encodeURIComponent(s); }
function main() { return document.getElementById('main'); }
function setMain(...children) { const m = main(); m.replaceChildren(...children); return m; }
function message(text, kind = 'error') { return el('p', { class: 'message ' + kind }, text); }
function flash(text, kind = 'info') {
  const box = document.getElementById('flash');
  box.replaceChildren(el('span', { class: kind }, text));
  box.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

// ---- token and routing -----------------------------------------------------------------------

function readToken() {
  const params = new URLSearchParams(location.search);
  const given = params.get('token');
  if (given) {
    sessionStorage.setItem('circuitry-token', given);
    history.replaceState(null, '', location.pathname + location.hash);
  }
  state.token = sessionStorage.getItem('circuitry-token');
  const badge = document.getElementById('token-state');
  badge.textContent = state.token ? 'editing on' : 'read-only: open the address `circuitry serve` printed to edit';
  badge.className = state.token ? 'badge on' : 'badge off';
}

function route() {
  const hash = location.hash || '#/graphs';
  const [, page, ...rest] = hash.split('/');
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === page);
  const arg = rest.length ? decodeURIComponent(rest.join('/')) : null;
  document.body.dataset.page = page;
  if (page === 'graph' && arg) return showGraph(arg);
  if (page === 'query') return showQuery();
  if (page === 'compare') return showCompare();
  if (page === 'trace') return showTrace();
  return showGraphs();
}

// ---- graphs ----------------------------------------------------------------------------------

async function showGraphs() {
  const search = el('input', { type: 'search', id: 'graph-search', placeholder: 'search prompts and slugs', value: state.listSearch || '' });
  const body = el('div', { id: 'graph-table' });
  setMain(el('h1', {}, 'Graphs'), el('div', { class: 'toolbar' }, search), body);
  async function load() {
    state.listSearch = search.value;
    try {
      const graphs = await api('/api/graphs?q=' + enc(search.value));
      body.replaceChildren(graphTable(graphs, load));
    } catch (e) { body.replaceChildren(message(e.message)); }
  }
  let timer = null;
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(load, 200); });
  await load();
}

function graphTable(graphs, reload) {
  if (!graphs.length) return message('No graphs. Trace one on the Trace page or with `circuitry trace`.', 'info');
  const rows = graphs.map(g => el('tr', { 'data-slug': g.slug },
    el('td', {}, g.id),
    el('td', {}, el('a', { href: '#/graph/' + enc(g.slug), class: 'graph-link' }, g.slug)),
    el('td', { class: 'prompt' }, visible(g.prompt)),
    el('td', {}, g.transcoderSet),
    el('td', { class: 'num' }, `${g.nodesKept} / ${g.nodesTotal}`),
    el('td', { class: 'num' }, `${g.edgesKept} / ${g.edgesTotal}`),
    el('td', { class: 'num' }, fmt(g.replacementScore)),
    el('td', { class: 'num' }, fmt(g.completenessScore)),
    el('td', {}, g.createdAt.replace('T', ' ').replace('Z', '')),
    el('td', {}, el('button', { class: 'danger', onclick: async () => {
      if (!confirm(`Delete graph "${g.slug}" from the store? This cannot be undone.`)) return;
      try { await api('/api/graphs/' + enc(g.slug), { method: 'DELETE' }); flash(`deleted "${g.slug}"`); reload(); } catch (e) { flash(e.message, 'error'); }
    } }, 'delete'))));
  return el('table', { class: 'list' },
    el('thead', {}, el('tr', {}, ['id', 'slug', 'prompt', 'transcoders', 'nodes kept', 'edges kept', 'replacement', 'completeness', 'created', ''].map(h => el('th', {}, h)))),
    el('tbody', {}, rows));
}

// ---- one graph -------------------------------------------------------------------------------

function nodeName(n) {
  // The names CircuitQL gives whole nodes (so query results can be found in the picture).
  if (n.kind === 'feature') return `L${n.layer}/F${n.feature}@${n.pos}`;
  if (n.kind === 'error') return `error L${n.layer}@${n.pos}`;
  if (n.kind === 'token') return `"${n.token}"@${n.pos}`;
  return `logit "${n.token}"`;
}

function nodeTitle(n) {
  if (n.kind === 'feature') return `L${n.layer}/F${n.feature} at "${visible(n.token)}" (${n.pos})`;
  if (n.kind === 'error') return `error L${n.layer} at "${visible(n.token)}" (${n.pos})`;
  if (n.kind === 'token') return `token "${visible(n.token)}" (${n.pos})`;
  return `logit "${visible(n.token)}" p=${fmt(n.prob)}`;
}

function viewQuery(extra = {}) {
  const v = state.view, p = new URLSearchParams();
  if (state.thresholds) { p.set('node_threshold', state.thresholds.node); p.set('edge_threshold', state.thresholds.edge); }
  for (const [k, val] of Object.entries(extra)) p.set(k, val);
  const s = p.toString();
  return s ? '?' + s : '';
}

async function showGraph(key) {
  if (state.graphKey !== key) {
    state.graphKey = key; state.thresholds = null; state.selected = null; state.pinned = new Set(); state.supernodes = [];
    state.subgraph = 'default'; state.loadedSubgraph = false; state.search = '';
    if (!state.pendingHighlight) state.highlight = new Set();
  }
  if (state.pendingHighlight) { state.highlight = state.pendingHighlight; state.pendingHighlight = null; }
  const started = performance.now();
  setMain(el('p', { class: 'message info' }, 'loading…'));
  try {
    state.view = await api('/api/graphs/' + enc(key) + viewQuery());
  } catch (e) { setMain(el('h1', {}, key), message(e.message)); return; }
  const v = state.view;
  if (!state.loadedSubgraph) {
    const saved = v.subgraphs.find(s => s.name === state.subgraph) || v.subgraphs[0];
    if (saved) { state.subgraph = saved.name; state.pinned = new Set(saved.pinned); state.supernodes = saved.supernodes.map(s => ({ name: s.name, members: s.members.slice() })); }
    state.loadedSubgraph = true;
  }
  state.byIndex = new Map(v.nodes.map(n => [n.i, n]));
  const s = v.summary;
  const header = el('div', { class: 'graph-header' },
    el('h1', {}, s.slug),
    el('p', { class: 'prompt' }, visible(s.prompt)),
    el('p', { class: 'facts' }, `${s.transcoderSet} · ${v.layers} layers · replacement ${fmt(s.replacementScore)} · completeness ${fmt(s.completenessScore)}`));
  const controls = graphControls(v);
  const picture = el('div', { id: 'picture' });
  const side = el('aside', { id: 'side' }, el('p', { class: 'hint' }, 'Hover a node for its label; click it for its feature page, edges and paths. Keys: p pins the selected node, g groups the pinned nodes into a supernode, Esc clears the selection.'));
  setMain(header, controls, el('div', { class: 'graph-body' }, picture, side));
  drawGraph();
  renderSubgraphPanel();
  if (state.selected !== null && state.byIndex.has(state.selected)) selectNode(state.selected); else state.selected = null;
  state.lastLoad = { milliseconds: performance.now() - started, serverMilliseconds: v.milliseconds };
  state.readyAt = performance.now();
  document.body.dataset.ready = String(Date.now());
}

function graphControls(v) {
  const nt = state.thresholds ? state.thresholds.node : v.nodeThreshold, et = state.thresholds ? state.thresholds.edge : v.edgeThreshold;
  const nodeSlider = el('input', { type: 'range', id: 'node-threshold', min: 0.5, max: 1, step: 0.01, value: nt });
  const edgeSlider = el('input', { type: 'range', id: 'edge-threshold', min: 0.5, max: 1, step: 0.01, value: et });
  const nodeValue = el('output', { id: 'node-threshold-value' }, fmt(nt, 2)), edgeValue = el('output', { id: 'edge-threshold-value' }, fmt(et, 2));
  let timer = null;
  function changed() {
    nodeValue.textContent = fmt(Number(nodeSlider.value), 2); edgeValue.textContent = fmt(Number(edgeSlider.value), 2);
    clearTimeout(timer);
    timer = setTimeout(() => { state.thresholds = { node: Number(nodeSlider.value), edge: Number(edgeSlider.value) }; showGraph(state.graphKey); }, 250);
  }
  nodeSlider.addEventListener('input', changed); edgeSlider.addEventListener('input', changed);
  const shown = el('input', { type: 'range', id: 'edges-shown', min: 0, max: 20000, step: 100, value: state.edgesShown });
  const shownValue = el('output', {}, String(state.edgesShown));
  shown.addEventListener('input', () => { state.edgesShown = Number(shown.value); shownValue.textContent = shown.value; drawEdges(); });
  const search = el('input', { type: 'search', id: 'label-search', placeholder: 'search labels and tokens', value: state.search });
  const found = el('span', { id: 'search-count' });
  search.addEventListener('input', () => { state.search = search.value; markSearch(); });
  const stats = el('span', { id: 'view-stats' },
    `${v.nodes.length} nodes, ${v.edgesTotal} edges${v.stored ? ' (as stored)' : ' (re-pruned in ' + fmt(v.milliseconds, 0) + ' ms)'}; drawing the strongest ${Math.min(state.edgesShown, v.edges.length)}`);
  return el('div', { class: 'toolbar graph-toolbar' },
    el('label', {}, 'node threshold ', nodeSlider, ' ', nodeValue),
    el('label', {}, 'edge threshold ', edgeSlider, ' ', edgeValue),
    el('label', {}, 'edges drawn ', shown, ' ', shownValue),
    search, found, stats,
    el('a', { href: '/api/graphs/' + enc(v.summary.slug) + '/export.json?subgraph=' + enc(state.subgraph), download: v.summary.slug + '.json', id: 'export-json' }, 'interchange JSON'));
}

function computeLayout(v, width) {
  const rows = v.layers + 2, positions = v.positions;
  const margin = { left: 40, right: 10, top: 18, bottom: 52 };
  const rowHeight = Math.max(18, Math.min(34, 760 / rows));
  const height = margin.top + margin.bottom + rows * rowHeight;
  const colWidth = (width - margin.left - margin.right) / Math.max(1, positions);
  const cells = new Map();
  for (const n of v.nodes) {
    const row = n.kind === 'token' ? 0 : n.kind === 'logit' ? rows - 1 : n.layer + 1;
    const key = row + ':' + n.pos;
    if (!cells.has(key)) cells.set(key, []);
    cells.get(key).push(n);
  }
  const maxInfluence = Math.max(1e-9, ...v.nodes.filter(n => n.kind === 'feature' || n.kind === 'error').map(n => n.infl));
  const layout = new Map();
  for (const [key, members] of cells) {
    const [row, pos] = key.split(':').map(Number);
    members.sort((a, b) => (b.kind === 'logit' ? b.prob : b.infl) - (a.kind === 'logit' ? a.prob : a.infl) || a.i - b.i);
    const y = margin.top + (rows - 1 - row) * rowHeight + rowHeight / 2;
    const inner = colWidth * 0.9, step = inner / members.length;
    members.forEach((n, k) => {
      const x = margin.left + pos * colWidth + colWidth * 0.05 + step * (k + 0.5);
      const big = n.kind === 'token' || n.kind === 'logit';
      const r = big ? Math.min(7, Math.max(3, step / 2)) : Math.max(1.8, Math.min(step / 2 + 1, 2 + 6 * Math.sqrt(n.infl / maxInfluence)));
      layout.set(n.i, { x, y, r });
    });
  }
  return { layout, width, height, margin, rowHeight, colWidth, rows };
}

function drawGraph() {
  const v = state.view, picture = document.getElementById('picture');
  const width = Math.max(700, picture.clientWidth || 900);
  const L = computeLayout(v, width);
  state.layout = L.layout; state.geometry = L;
  const canvas = el('canvas', { id: 'edges', width: width * devicePixelRatio, height: L.height * devicePixelRatio });
  canvas.style.width = width + 'px'; canvas.style.height = L.height + 'px';
  const svg = sv('svg', { id: 'graph', width, height: L.height, viewBox: `0 0 ${width} ${L.height}`, 'data-nodes': v.nodes.length });
  // Bands: layer names at the left, tokens along the bottom.
  for (let row = 0; row < L.rows; row++) {
    const y = L.margin.top + (L.rows - 1 - row) * L.rowHeight + L.rowHeight / 2;
    const text = sv('text', { x: 4, y: y + 4, class: 'band' });
    text.textContent = row === 0 ? 'emb' : row === L.rows - 1 ? 'logit' : 'L' + (row - 1);
    svg.append(text);
    if (row % 2 === 1) svg.append(sv('rect', { x: L.margin.left, y: y - L.rowHeight / 2, width: width - L.margin.left - L.margin.right, height: L.rowHeight, class: 'stripe' }));
  }
  v.tokens.forEach((t, p) => {
    const x = L.margin.left + (p + 0.5) * L.colWidth;
    const text = sv('text', { x, y: L.height - L.margin.bottom + 16, class: 'token-label', 'text-anchor': 'middle' });
    text.textContent = visible(t).slice(0, 14);
    svg.append(text);
  });
  const nodes = sv('g', { id: 'nodes' });
  for (const n of v.nodes) {
    const p = L.layout.get(n.i);
    const shape = n.kind === 'error'
      ? sv('rect', { x: p.x - p.r, y: p.y - p.r, width: 2 * p.r, height: 2 * p.r })
      : sv('circle', { cx: p.x, cy: p.y, r: p.r });
    shape.setAttribute('class', 'node ' + n.kind);
    shape.dataset.index = n.i;
    shape.addEventListener('mouseenter', e => showTooltip(e, n));
    shape.addEventListener('mouseleave', hideTooltip);
    shape.addEventListener('click', () => selectNode(n.i));
    nodes.append(shape);
  }
  svg.append(nodes);
  svg.addEventListener('click', e => { if (e.target === svg) clearSelection(); });
  const frame = el('div', { class: 'frame' }, canvas, svg);
  frame.style.height = L.height + 'px';
  picture.replaceChildren(frame);
  drawEdges();
  markNodes();
}

function drawEdges() {
  const canvas = document.getElementById('edges');
  if (!canvas || !state.view) return;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const edges = state.view.edges, layout = state.layout, selected = state.selected;
  const count = Math.min(state.edgesShown, edges.length);
  const max = edges.length ? Math.abs(edges[0][2]) : 1;
  const focus = selected !== null;
  for (let k = 0; k < count; k++) {
    const [s, t, w] = edges[k];
    if (focus && s !== selected && t !== selected) continue;
    drawEdge(ctx, layout.get(s), layout.get(t), w, max, focus ? 0.15 : 0.05);
  }
  if (focus) {
    // The selected node's edges, all of them, drawn strongly.
    for (const [s, t, w] of edges) if (s === selected || t === selected) drawEdge(ctx, layout.get(s), layout.get(t), w, max, 0.35, 1.6);
  }
}

function drawEdge(ctx, a, b, w, max, alpha, widen = 1) {
  if (!a || !b) return;
  const share = Math.min(1, Math.abs(w) / max);
  ctx.strokeStyle = w >= 0 ? `rgba(33,102,172,${alpha + 0.6 * share})` : `rgba(178,24,43,${alpha + 0.6 * share})`;
  ctx.lineWidth = (0.4 + 3 * share) * widen;
  ctx.beginPath(); ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y); ctx.stroke();
}

function showTooltip(event, n) {
  const tip = document.getElementById('tooltip');
  tip.replaceChildren(el('strong', {}, nodeTitle(n)),
    n.label ? el('div', { class: 'tip-label' }, n.label) : null,
    el('div', {}, n.kind === 'logit' ? `probability ${fmt(n.prob)}` : `activation ${fmt(n.act)} · influence ${fmt(n.infl, 4)}`));
  tip.hidden = false;
  tip.style.left = (event.pageX + 12) + 'px'; tip.style.top = (event.pageY + 12) + 'px';
}
function hideTooltip() { document.getElementById('tooltip').hidden = true; }

function markNodes() {
  const grouped = new Map();
  state.supernodes.forEach((s, k) => s.members.forEach(m => grouped.set(m, k)));
  for (const shape of document.querySelectorAll('#nodes .node')) {
    const i = Number(shape.dataset.index);
    shape.classList.toggle('pinned', state.pinned.has(i));
    shape.classList.toggle('grouped', grouped.has(i));
    shape.classList.toggle('selected', state.selected === i);
    shape.classList.toggle('highlight', state.highlight.has(nodeName(state.byIndex.get(i))));
  }
  const marked = document.querySelectorAll('#nodes .node.highlight').length;
  document.body.dataset.highlighted = String(marked);
  markSearch();
}

function markSearch() {
  const needle = state.search.trim().toLowerCase();
  let count = 0;
  for (const shape of document.querySelectorAll('#nodes .node')) {
    const n = state.byIndex.get(Number(shape.dataset.index));
    const hit = needle !== '' && ((n.label || '').toLowerCase().includes(needle) || (n.token || '').toLowerCase().includes(needle) || nodeName(n).toLowerCase() === needle);
    shape.classList.toggle('found', hit);
    shape.classList.toggle('dim', needle !== '' && !hit);
    if (hit) count++;
  }
  const out = document.getElementById('search-count');
  if (out) out.textContent = needle ? `${count} found` : '';
}

function clearSelection() { state.selected = null; markNodes(); drawEdges(); renderSubgraphPanel(); }

async function selectNode(i) {
  state.selected = i; markNodes(); drawEdges();
  const side = document.getElementById('side');
  side.replaceChildren(el('p', { class: 'message info' }, 'loading…'));
  try {
    const d = await api('/api/graphs/' + enc(state.graphKey) + '/nodes/' + i + viewQuery());
    if (state.selected !== i) return;
    side.replaceChildren(nodePanel(d));
  } catch (e) { side.replaceChildren(message(e.message)); }
}

function nodeLink(n, weight) {
  return el('li', {}, el('button', { class: 'link node-link', onclick: () => selectNode(n.i) }, nodeTitle(n)),
    weight === undefined ? null : el('span', { class: weight >= 0 ? 'pos' : 'neg' }, ' ' + fmt(weight, 4)),
    n.label ? el('div', { class: 'small' }, n.label) : null);
}

function nodePanel(d) {
  const n = d.node;
  const parts = [el('h2', { id: 'node-title' }, nodeTitle(n))];
  const pinned = state.pinned.has(n.i);
  parts.push(el('div', { class: 'buttons' },
    el('button', { id: 'pin', onclick: () => togglePin(n.i) }, pinned ? 'unpin (p)' : 'pin (p)')));
  if (n.kind === 'feature') parts.push(featurePage(d, n));
  else parts.push(el('p', {}, n.kind === 'logit' ? `probability ${fmt(n.prob)}` : `influence ${fmt(n.infl, 4)}`));
  parts.push(el('h3', {}, `strongest inputs (${d.incoming.length} of ${d.incomingTotal})`), el('ul', { class: 'edges' }, d.incoming.map(e => nodeLink(e.node, e.weight))));
  parts.push(el('h3', {}, `strongest outputs (${d.outgoing.length} of ${d.outgoingTotal})`), el('ul', { class: 'edges' }, d.outgoing.map(e => nodeLink(e.node, e.weight))));
  if (d.logit !== null && d.logit !== undefined) {
    const target = state.byIndex.get(d.logit);
    parts.push(el('h3', {}, `paths through it to ${target ? nodeTitle(target) : 'the logit'}`));
    parts.push(d.paths.length ? el('ol', { class: 'paths' }, d.paths.map(p => el('li', {},
      p.nodes.map((k, j) => { const m = state.byIndex.get(k); return [j ? ' → ' : '', el('button', { class: 'link', onclick: () => selectNode(k) }, m ? nodeName(m) : String(k))]; }),
      el('span', { class: 'small' }, ` (strength ${fmt(p.strength, 4)})`)))) : el('p', { class: 'small' }, 'none among the strongest paths'));
  }
  return el('div', { id: 'node-panel', 'data-index': n.i }, parts);
}

function featurePage(d, n) {
  const page = d.page;
  const box = el('div', { id: 'feature-page' });
  const label = el('input', { type: 'text', id: 'label-input', value: (page && page.userLabel) || n.label || '', placeholder: 'label this feature' });
  const save = el('button', { id: 'label-save', onclick: async () => {
    try {
      const r = await api(`/api/features/${enc(state.view.transcoderFingerprint)}/${n.layer}/${n.feature}/label`, { method: 'PUT', body: { label: label.value } });
      flash('label saved'); n.label = r.label || null; for (const m of state.view.nodes) if (m.kind === 'feature' && m.layer === n.layer && m.feature === n.feature) m.label = n.label;
      document.getElementById('feature-label').textContent = n.label || '(no label)';
    } catch (e) { flash(e.message, 'error'); }
  } }, 'save label');
  box.append(el('p', { id: 'feature-label', class: 'label' }, n.label || '(no label)'));
  box.append(el('p', {}, `activation ${fmt(n.act)} · influence ${fmt(n.infl, 4)} · cumulative ${fmt(n.cum)}`));
  box.append(el('div', { class: 'label-edit' }, label, save));
  if (!page) { box.append(el('p', { class: 'small' }, d.pageError || 'no feature page')); return box; }
  box.append(el('p', {}, `fires on ${fmt(100 * page.frequency, 3)}% of ${page.set.tokens} scanned tokens · mean ${fmt(page.meanActivation)} · max ${fmt(page.maxActivation)}`));
  const tokens = (list, cls) => el('span', { class: 'tokens' }, list.slice(0, 8).map(t => el('span', { class: 'tok ' + cls, title: fmt(t.score) }, visible(t.text))));
  box.append(el('p', {}, 'promotes ', tokens(page.promoted, 'pos')), el('p', {}, 'suppresses ', tokens(page.suppressed, 'neg')));
  box.append(el('h3', {}, 'top contexts'));
  const peak = Math.max(1e-9, ...page.contexts.flatMap(c => c.activations));
  box.append(el('div', { class: 'contexts' }, page.contexts.slice(0, 10).map(c => el('div', { class: 'context' },
    c.tokens.map((t, k) => { const a = c.activations[k] || 0; const s = el('span', { class: 'ctx-tok' + (k === c.peak ? ' peak' : ''), title: fmt(a) }, visible(t));
      if (a > 0) s.style.backgroundColor = `rgba(230,126,34,${Math.min(1, a / peak).toFixed(3)})`; return s; })))));
  if (page.graphs.length) box.append(el('p', { class: 'small' }, `in ${page.graphs.length} stored graph node(s)`));
  return box;
}

// ---- pinning and supernodes ------------------------------------------------------------------

function togglePin(i) {
  if (state.pinned.has(i)) {
    state.pinned.delete(i);
    state.supernodes.forEach(s => { s.members = s.members.filter(m => m !== i); });
    state.supernodes = state.supernodes.filter(s => s.members.length);
  } else state.pinned.add(i);
  changedSubgraph();
  if (state.selected === i) { const b = document.getElementById('pin'); if (b) b.textContent = state.pinned.has(i) ? 'unpin (p)' : 'pin (p)'; }
}

function groupPinned(name) {
  const grouped = new Set(state.supernodes.flatMap(s => s.members));
  const members = [...state.pinned].filter(i => !grouped.has(i)).sort((a, b) => a - b);
  if (!members.length) { flash('pin nodes first (select a node and press p); nodes already in a supernode are skipped', 'error'); return; }
  if (name === undefined) name = prompt(`Name the supernode of ${members.length} pinned node(s):`, '');
  if (!name) return;
  state.supernodes.push({ name, members });
  changedSubgraph();
}

function changedSubgraph() {
  markNodes(); renderSubgraphPanel();
  if (!state.token) { flash('not saved: editing needs the token (open the address `circuitry serve` printed)', 'error'); return; }
  clearTimeout(state.saveTimer);
  state.saveTimer = setTimeout(saveSubgraph, 150);
}

async function saveSubgraph() {
  const body = { pinned: [...state.pinned].sort((a, b) => a - b), supernodes: state.supernodes };
  state.saving = api(`/api/graphs/${enc(state.graphKey)}/subgraphs/${enc(state.subgraph)}`, { method: 'PUT', body });
  try {
    await state.saving;
    document.body.dataset.saved = `${body.pinned.length} pinned, ${body.supernodes.length} supernodes`;
  } catch (e) { flash(e.message, 'error'); }
  state.saving = null;
}

function renderSubgraphPanel() {
  let panel = document.getElementById('subgraph');
  const side = document.getElementById('side');
  if (!side) return;
  if (!panel) { panel = el('section', { id: 'subgraph' }); side.append(panel); }
  if (state.selected === null && !side.querySelector('#node-panel')) {}
  const names = new Map(state.view.nodes.map(n => [n.i, n]));
  panel.replaceChildren(
    el('h3', {}, `subgraph "${state.subgraph}": ${state.pinned.size} pinned, ${state.supernodes.length} supernodes`),
    el('div', { class: 'buttons' },
      el('button', { id: 'group', onclick: () => groupPinned() }, 'group pinned (g)'),
      el('button', { id: 'suggest', onclick: suggest }, 'suggest supernodes'),
      el('a', { href: `/api/graphs/${enc(state.graphKey)}/subgraph.svg?subgraph=${enc(state.subgraph)}`, target: '_blank', id: 'subgraph-svg' }, 'subgraph SVG')),
    el('ul', { id: 'supernodes' }, state.supernodes.map((s, k) => el('li', {}, el('strong', {}, s.name), ` (${s.members.length}) `,
      el('span', { class: 'small' }, s.members.map(m => names.has(m) ? nodeName(names.get(m)) : String(m)).join(', ')), ' ',
      el('button', { class: 'small', onclick: () => { state.supernodes.splice(k, 1); changedSubgraph(); } }, 'ungroup')))),
    el('div', { id: 'suggestions' }));
  const side2 = document.getElementById('side');
  if (panel.parentNode !== side2) side2.append(panel);
}

async function suggest() {
  const box = document.getElementById('suggestions');
  try {
    const list = await api('/api/graphs/' + enc(state.graphKey) + '/suggestions' + viewQuery());
    box.replaceChildren(el('h3', {}, `suggested supernodes (${list.length})`),
      list.length ? el('ul', {}, list.map(s => el('li', {}, el('strong', {}, s.name), ` ${s.members.length} nodes `,
        el('button', { class: 'small', onclick: () => { for (const m of s.members) state.pinned.add(m); const taken = new Set(state.supernodes.flatMap(x => x.members));
          const members = s.members.filter(m => !taken.has(m)); if (members.length) state.supernodes.push({ name: s.name, members }); changedSubgraph(); } }, 'accept'),
        el('div', { class: 'small' }, s.reason)))) : el('p', { class: 'small' }, 'no features agree closely enough (same position, two layers apart at most, same label and edges)'));
  } catch (e) { box.replaceChildren(message(e.message)); }
}

document.addEventListener('keydown', e => {
  if (document.body.dataset.page !== 'graph' || ['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement.tagName)) return;
  if (e.key === 'p' && state.selected !== null) togglePin(state.selected);
  else if (e.key === 'g') groupPinned();
  else if (e.key === 'Escape') clearSelection();
});

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
  try { graphs = await api('/api/graphs'); } catch (e) { setMain(message(e.message)); return; }
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
  try { graphs = await api('/api/graphs'); } catch (e) { setMain(message(e.message)); return; }
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

// ---- start -----------------------------------------------------------------------------------

window.addEventListener('hashchange', route);
window.addEventListener('resize', () => { if (document.body.dataset.page === 'graph' && state.view) drawGraph(); });
readToken();
route();
"""#
}
