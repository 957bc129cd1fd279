/* Client-side search over window.CARTE_SEARCH (static/search-index.js): no external service. */
(function () {
  "use strict";
  var index = window.CARTE_SEARCH || [];
  var input = document.getElementById("search-page-q");
  var list = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  if (!input || !list) { return; }
  var prepared = index.map(function (e) { return { e: e, title: e.t.toLowerCase(), all: (e.t + " " + e.k + " " + e.x).toLowerCase() }; });

  function run() {
    var q = input.value.trim().toLowerCase();
    list.textContent = "";
    if (!q) { status.textContent = "Type a word: a disease, a product, an author, a trial number."; return; }
    var words = q.split(/\s+/);
    var hits = prepared.filter(function (p) { return words.every(function (w) { return p.all.indexOf(w) >= 0; }); });
    // titles that match first, then diseases, studies, products, trials
    var order = { disease: 0, study: 1, product: 2, trial: 3 };
    hits.sort(function (a, b) {
      var ta = words.every(function (w) { return a.title.indexOf(w) >= 0; }) ? 0 : 1;
      var tb = words.every(function (w) { return b.title.indexOf(w) >= 0; }) ? 0 : 1;
      return ta - tb || order[a.e.k] - order[b.e.k] || a.title.localeCompare(b.title);
    });
    hits.slice(0, 50).forEach(function (p) {
      var li = document.createElement("li");
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = p.e.k + " ";
      var a = document.createElement("a");
      a.href = p.e.u;
      a.textContent = p.e.t;
      li.appendChild(kind);
      li.appendChild(a);
      list.appendChild(li);
    });
    status.textContent = hits.length + (hits.length === 1 ? " result" : " results") + (hits.length > 50 ? " (first 50 shown)" : "") + " for \u201c" + input.value.trim() + "\u201d.";
  }
  var params = new URLSearchParams(window.location.search);
  input.value = params.get("q") || "";
  var header = document.getElementById("site-search");
  if (header) { header.value = input.value; }
  input.addEventListener("input", run);
  document.getElementById("search-page-form").addEventListener("submit", function (e) { e.preventDefault(); run(); });
  run();
})();
