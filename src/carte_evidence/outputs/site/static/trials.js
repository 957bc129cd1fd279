/* Trials page: filters and sortable columns. Progressive enhancement: without JavaScript the
   page is a plain table with every trial. */
(function () {
  "use strict";
  var form = document.getElementById("trial-filters");
  var table = document.getElementById("trials-table");
  if (!form || !table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var count = document.getElementById("trial-count");
  form.hidden = false;

  function apply() {
    var wanted = {};
    form.querySelectorAll("select[data-filter]").forEach(function (s) { wanted[s.dataset.filter] = s.value; });
    var shown = 0;
    rows.forEach(function (row) {
      var ok = Object.keys(wanted).every(function (key) {
        if (!wanted[key]) { return true; }
        var value = row.dataset[key] || "";
        // disease and country hold space-separated lists; a target is one category
        return key === "disease" || key === "country" ? value.split(" ").indexOf(wanted[key]) >= 0 : value === wanted[key];
      });
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " trials shown.";
  }
  form.addEventListener("change", apply);
  form.addEventListener("reset", function () { setTimeout(apply, 0); });
  form.addEventListener("submit", function (e) { e.preventDefault(); apply(); });

  var headers = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(headers, function (th, index) {
    var kind = th.dataset.sort;
    if (!kind) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = th.textContent;
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var sorted = rows.slice().sort(function (a, b) {
        var x = a.cells[index].textContent.trim(), y = b.cells[index].textContent.trim();
        var cmp;
        if (kind === "number") {
          // empty cells sort last either way
          if (!x || !y) { return (!x) - (!y); }
          cmp = parseFloat(x) - parseFloat(y);
        } else {
          cmp = x.localeCompare(y);
        }
        return ascending ? cmp : -cmp;
      });
      sorted.forEach(function (row) { body.appendChild(row); });
    });
  });
})();
