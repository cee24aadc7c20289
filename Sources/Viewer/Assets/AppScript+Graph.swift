// The viewer's script, part 2: the graph list and the graph page (drawing, the node panel and
// feature page, pins and supernodes).

extension AppScript {
    static let graphPages = #"""
// ---- graphs ----------------------------------------------------------------------------------

async function showGraphs() {
  const search = el('input', { type: 'search', id: 'graph-search', placeholder: 'search prompts and slugs', value: state.listSearch || '' });
  const body = el('div', { id: 'graph-table' });
  setMain(el('h1', {}, 'Graphs'), el('div', { class: 'toolbar' }, search), body);
  async function load() {
    state.listSearch = search.value;
    const nav = state.nav;
    try {
      const graphs = await api('/api/graphs?q=' + enc(search.value));
      if (nav !== state.nav) return;
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
  const p = new URLSearchParams();
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
  // A page left (or re-pruned again) while its answer was on the way draws nothing when it comes.
  state.nav = (state.nav || 0) + 1;
  const nav = state.nav;
  let v;
  try {
    v = await api('/api/graphs/' + enc(key) + viewQuery());
  } catch (e) { if (nav === state.nav) setMain(el('h1', {}, key), message(e.message)); return; }
  if (nav !== state.nav) return;
  state.view = v;
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
  const side = el('aside', { id: 'side' }, el('p', { class: 'hint' }, 'Hover a node for its label; click it for its feature page, edges and paths. Keys: p pins the selected node, g groups the pinned nodes into a supernode, Esc clears the selection. Drag a node onto another to group the two.'));
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
    shape.addEventListener('pointerdown', e => startDrag(e, n.i));
    nodes.append(shape);
  }
  svg.append(nodes);
  svg.addEventListener('pointermove', moveDrag);
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

// Dragging a node onto another groups them: into the target's supernode, else the dragged
// node's, else a new one named after the target. Both are pinned.
function startDrag(e, i) {
  if (e.button !== 0) return;
  e.preventDefault();
  state.drag = { from: i, x: e.clientX, y: e.clientY, moved: false };
}

function moveDrag(e) {
  const d = state.drag, svg = document.getElementById('graph');
  if (!d || !svg) return;
  if (!d.moved && Math.hypot(e.clientX - d.x, e.clientY - d.y) < 5) return;
  d.moved = true;
  const a = state.layout.get(d.from), box = svg.getBoundingClientRect();
  let line = document.getElementById('drag-line');
  if (!line) { line = sv('line', { id: 'drag-line' }); svg.append(line); }
  for (const [k, v] of Object.entries({ x1: a.x, y1: a.y, x2: e.clientX - box.left, y2: e.clientY - box.top })) line.setAttribute(k, v);
}

document.addEventListener('pointerup', e => {
  const d = state.drag;
  state.drag = null;
  const line = document.getElementById('drag-line');
  if (line) line.remove();
  if (!d || !d.moved) return;
  const target = document.elementFromPoint(e.clientX, e.clientY);
  const to = target && target.classList.contains('node') ? Number(target.dataset.index) : null;
  if (to === null || to === d.from) return;
  groupByDrop(d.from, to);
});

function groupByDrop(from, to) {
  const home = i => state.supernodes.find(s => s.members.includes(i));
  let group = home(to) || home(from);
  if (!group) {
    const n = state.byIndex.get(to);
    group = { name: (n && n.label) || (n ? nodeName(n) : String(to)), members: [] };
    state.supernodes.push(group);
  }
  for (const i of [from, to]) {
    state.pinned.add(i);
    const old = home(i);
    if (old && old !== group) old.members = old.members.filter(m => m !== i);
    if (!group.members.includes(i)) group.members.push(i);
  }
  group.members.sort((a, b) => a - b);
  state.supernodes = state.supernodes.filter(s => s.members.length);
  changedSubgraph();
}

function renameSupernode(k) {
  const s = state.supernodes[k];
  const name = prompt('Rename the supernode:', s.name);
  if (!name) return;
  s.name = name;
  changedSubgraph();
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
  panel.replaceChildren(
    el('h3', {}, `subgraph "${state.subgraph}": ${state.pinned.size} pinned, ${state.supernodes.length} supernodes`),
    el('div', { class: 'buttons' },
      el('button', { id: 'group', onclick: () => groupPinned() }, 'group pinned (g)'),
      el('button', { id: 'suggest', onclick: suggest }, 'suggest supernodes'),
      el('a', { href: `/api/graphs/${enc(state.graphKey)}/subgraph.svg?subgraph=${enc(state.subgraph)}`, target: '_blank', id: 'subgraph-svg' }, 'subgraph SVG')),
    el('ul', { id: 'supernodes' }, state.supernodes.map((s, k) => el('li', {}, el('strong', {}, s.name), ` (${s.members.length}) `,
      el('span', { class: 'small' }, s.members.map(m => state.byIndex.has(m) ? nodeName(state.byIndex.get(m)) : String(m)).join(', ')), ' ',
      el('button', { class: 'small', onclick: () => renameSupernode(k) }, 'rename'), ' ',
      el('button', { class: 'small', onclick: () => { state.supernodes.splice(k, 1); changedSubgraph(); } }, 'ungroup')))),
    el('div', { id: 'suggestions' }));
  if (panel.parentNode !== side) side.append(panel);
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

"""#
}
