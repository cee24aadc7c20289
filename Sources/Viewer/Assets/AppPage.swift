// The viewer's page and icon (served as /index.html and /favicon.svg).

enum AppPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Circuitry viewer</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header>
  <a href="#/graphs" class="brand">Circuitry</a>
  <nav>
    <a href="#/graphs" data-page="graphs">Graphs</a>
    <a href="#/query" data-page="query">Query</a>
    <a href="#/compare" data-page="compare">Compare</a>
    <a href="#/trace" data-page="trace">Trace</a>
  </nav>
  <span id="token-state" class="badge"></span>
</header>
<div id="flash" hidden></div>
<main id="main"></main>
<div id="tooltip" class="tooltip" hidden></div>
<script src="/app.js"></script>
</body>
</html>
"""#

    static let icon = #"""
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="4" cy="12" r="2.5" fill="#4f86c6"/><circle cx="8" cy="6" r="2.5" fill="#e08e36"/><circle cx="12" cy="2.5" r="2" fill="#3f9f52"/><path d="M4 12 8 6 12 2.5" stroke="#2166ac" fill="none"/></svg>
"""#
}
