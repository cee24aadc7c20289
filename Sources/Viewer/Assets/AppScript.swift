// The viewer's script (served as /app.js): plain DOM code written for Circuitry, no libraries.
// It is served as one file made of these parts, in order; `scripts/check-viewer-script.sh` checks
// the syntax of the whole (node --check) after editing.

enum AppScript {
    static let source = [base, graphPages, otherPages, start].joined(separator: "\n")

    /// Helpers, the API call, the token and routing.
    static let base = #"""
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
  state.nav = (state.nav || 0) + 1;
  delete document.body.dataset.ready;
  document.body.dataset.page = page;
  if (page === 'graph' && arg) return showGraph(arg);
  if (page === 'query') return showQuery();
  if (page === 'compare') return showCompare();
  if (page === 'trace') return showTrace();
  return showGraphs();
}

"""#

    /// Start-up, last: everything above is defined by then.
    static let start = #"""
// ---- start -----------------------------------------------------------------------------------

window.addEventListener('hashchange', route);
window.addEventListener('resize', () => { if (document.body.dataset.page === 'graph' && state.view) drawGraph(); });
readToken();
route();
"""#
}
