// The viewer's style sheet (served as /app.css).

enum AppStyle {
    static let css = #"""
:root { --ink: #1d2329; --muted: #66707a; --line: #d8dde2; --feature: #e08e36; --error: #9aa0a6; --token: #4f86c6; --logit: #3f9f52; --pin: #6a1b9a; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); background: #fafbfc; }
header { display: flex; align-items: center; gap: 18px; padding: 8px 16px; background: #20262d; color: #fff; }
header a { color: #dfe6ee; text-decoration: none; }
header .brand { font-weight: 700; font-size: 16px; color: #fff; }
nav { display: flex; gap: 12px; }
nav a.active { color: #fff; border-bottom: 2px solid var(--feature); }
.badge { margin-left: auto; font-size: 12px; padding: 2px 8px; border-radius: 10px; }
.badge.on { background: #2e7d32; } .badge.off { background: #5d4037; }
main { padding: 12px 16px; }
h1 { font-size: 20px; margin: 4px 0 8px; } h2 { font-size: 16px; margin: 6px 0; } h3 { font-size: 13px; margin: 12px 0 4px; color: #37414b; }
.toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; margin: 8px 0; }
.graph-toolbar label { white-space: nowrap; }
input[type=search], input[type=text], textarea, select { font: inherit; padding: 4px 6px; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
textarea { width: 100%; font-family: ui-monospace, Menlo, Consolas, monospace; }
button { font: inherit; padding: 3px 10px; border: 1px solid #b8c0c8; border-radius: 4px; background: #fff; cursor: pointer; }
button:hover { background: #eef2f6; } button.danger { color: #b71c1c; } button.small { font-size: 12px; padding: 1px 6px; }
button.link { border: none; background: none; padding: 0; color: #1f5fa8; text-align: left; cursor: pointer; }
button.link:hover { text-decoration: underline; background: none; }
table.list { border-collapse: collapse; width: 100%; background: #fff; }
table.list th, table.list td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
table.list td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.prompt, p.prompt { white-space: pre-wrap; }
.message.error { color: #b71c1c; } .message.info, .hint, .small, .facts { color: var(--muted); } .small { font-size: 12px; }
#flash { position: fixed; top: 48px; right: 16px; background: #fff; border: 1px solid var(--line); padding: 6px 12px; border-radius: 4px; box-shadow: 0 2px 6px rgba(0,0,0,.15); z-index: 20; }
#flash .error { color: #b71c1c; }
.graph-header p { margin: 2px 0; }
.graph-body { display: grid; grid-template-columns: minmax(0, 1fr) 380px; gap: 12px; align-items: start; }
#picture { background: #fff; border: 1px solid var(--line); border-radius: 4px; overflow: hidden; }
.frame { position: relative; }
.frame canvas, .frame svg { position: absolute; left: 0; top: 0; }
svg .band { font-size: 10px; fill: var(--muted); }
svg .token-label { font-size: 11px; fill: var(--ink); }
svg .stripe { fill: #f4f6f8; }
svg .node { stroke: #fff; stroke-width: 0.6; cursor: pointer; }
svg .node.feature { fill: var(--feature); } svg .node.error { fill: var(--error); } svg .node.token { fill: var(--token); } svg .node.logit { fill: var(--logit); }
svg .node:hover { stroke: #000; stroke-width: 1.5; }
svg .node.pinned { stroke: var(--pin); stroke-width: 2.2; }
svg .node.grouped { stroke: var(--pin); stroke-width: 2.2; stroke-dasharray: 2 1; }
svg .node.selected { stroke: #000; stroke-width: 2.5; }
svg .node.highlight { fill: #d81b60; stroke: #000; stroke-width: 1.4; }
svg .node.found { stroke: #00838f; stroke-width: 2.4; }
svg .node.dim { opacity: 0.25; }
svg #drag-line { stroke: var(--pin); stroke-width: 1.5; stroke-dasharray: 4 3; pointer-events: none; }
aside#side { background: #fff; border: 1px solid var(--line); border-radius: 4px; padding: 8px 12px; max-height: 88vh; overflow: auto; }
aside h2 { font-size: 15px; }
ul.edges, ol.paths, #supernodes, #suggestions ul { padding-left: 18px; margin: 4px 0; }
ul.edges li { margin: 2px 0; }
.pos { color: #2166ac; } .neg { color: #b2182b; }
.label { font-weight: 600; }
.label-edit { display: flex; gap: 6px; } .label-edit input { flex: 1; }
.tokens .tok { display: inline-block; margin: 1px 3px; padding: 0 4px; border-radius: 3px; background: #eef2f6; font-family: ui-monospace, Menlo, monospace; white-space: pre; }
.tok.pos { background: #deebf7; } .tok.neg { background: #fde0dd; }
.contexts .context { font-family: ui-monospace, Menlo, monospace; font-size: 12px; margin: 3px 0; padding: 2px 0; border-bottom: 1px dotted var(--line); }
.ctx-tok { white-space: pre; } .ctx-tok.peak { outline: 1px solid #bf360c; }
.tooltip { position: absolute; z-index: 30; max-width: 360px; background: #fff; border: 1px solid #9aa5b1; border-radius: 4px; padding: 6px 8px; box-shadow: 0 2px 8px rgba(0,0,0,.2); pointer-events: none; font-size: 12px; }
.tip-label { color: #37414b; margin: 2px 0; }
.buttons { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0; }
.picks { display: flex; flex-direction: column; gap: 2px; }
img.diff { max-width: 100%; border: 1px solid var(--line); background: #fff; }
pre.json, pre.progress { background: #f4f6f8; padding: 6px; overflow: auto; max-height: 240px; font-size: 12px; }
table.metrics { width: auto; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: middle; }
ul.legend { list-style: none; padding: 0; }
p.own .tok { margin: 2px; }
"""#
}
