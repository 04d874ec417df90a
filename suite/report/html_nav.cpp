// The matrix's filters and order, read from the URL's fragment (html_nav.hpp).
#include "html_nav.hpp"

namespace csd::report::html {

// A cell matches when its row's check, its column's implementation (globs:
// '*' any text, ',' or) and its verdict (its class: pass, fail, warn, skip,
// flaky) all match; one that does not is blanked (class "off"), a row or a
// column with no match left is hidden. A fragment without '=' is a permalink,
// which the browser scrolls to: no filter. Every cell keeps its column's
// first index (data-col), so an order is always undone from the same start.
const std::string_view kMatrixScript = R"js(<script>
(function () {
  'use strict';
  const table = document.getElementById('matrix');
  if (!table || !table.tHead || !table.tBodies.length) return;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.forEach((row, i) => { row.dataset.order = i; });
  Array.from(table.rows).forEach(row => {
    Array.from(row.cells).forEach((cell, i) => { cell.dataset.col = i; });
  });
  const implOf = [];
  Array.from(table.tHead.rows[0].cells).forEach((th, i) => { implOf[i] = th.dataset.impl || ''; });
  const bad = cell => cell.matches('.fail, .warn, .flaky') ? 1 : 0;
  const glob = text => new RegExp('^(' + text.split(',').map(part => part.split('*')
      .map(s => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')).join('|') + ')$');
  function apply() {
    let fragment = location.hash.slice(1);
    try { fragment = decodeURIComponent(fragment); } catch (e) { /* as written */ }
    const query = new URLSearchParams(fragment.includes('=') ? fragment : '');
    const verdicts = query.get('verdict') ? query.get('verdict').split(',') : null;
    const impl = query.get('impl') ? glob(query.get('impl')) : null;
    const check = query.get('check') ? glob(query.get('check')) : null;
    const failuresFirst = query.get('order') === 'failures';
    // The order: first as written, or the most failures first (rows and columns).
    const failures = implOf.map(() => 0);
    const rowFailures = row => Array.from(row.cells).reduce((n, cell) => n + bad(cell), 0);
    rows.forEach(row => Array.from(row.cells).forEach(cell => {
      failures[cell.dataset.col] += bad(cell);
    }));
    const columns = implOf.map((_, i) => i).slice(1).sort((a, b) =>
        (failuresFirst ? failures[b] - failures[a] : 0) || a - b);
    Array.from(table.rows).forEach(row => {
      const byColumn = [];
      Array.from(row.cells).forEach(cell => { byColumn[cell.dataset.col] = cell; });
      row.append(...[0, ...columns].map(i => byColumn[i]));
    });
    body.append(...rows.slice().sort((a, b) => (failuresFirst ?
        rowFailures(b) - rowFailures(a) : 0) || a.dataset.order - b.dataset.order));
    // The filter.
    const shown = implOf.map(() => false);
    let matching = 0;
    let cells = 0;
    rows.forEach(row => {
      let any = false;
      Array.from(row.cells).forEach(cell => {
        const col = Number(cell.dataset.col);
        if (col === 0) return;
        ++cells;
        const match = (!check || check.test(row.dataset.check)) &&
            (!impl || impl.test(implOf[col])) &&
            (!verdicts || verdicts.some(v => cell.classList.contains(v)));
        cell.classList.toggle('off', !match);
        if (match) { any = true; shown[col] = true; ++matching; }
      });
      row.hidden = !any;
    });
    Array.from(table.rows).forEach(row => Array.from(row.cells).forEach(cell => {
      const col = Number(cell.dataset.col);
      if (col !== 0) cell.hidden = !shown[col];
    }));
    const note = document.getElementById('filter-note');
    if (note) {
      note.textContent = query.toString() ?
          `Showing ${matching} of ${cells} cells: #${fragment} ` : '';
      if (query.toString()) {
        const all = document.createElement('a');
        all.href = '#';
        all.textContent = 'show all';
        note.append(all);
      }
    }
  }
  apply();
  window.addEventListener('hashchange', apply);
})();
</script>
)js";

const std::string_view kFilterLinks =
    R"(<p class="filters">Show: <a href="#verdict=fail,warn,flaky">failures and warnings only</a>)"
    R"( <a href="#order=failures">failures first</a> <a href="#">everything</a>. The page reads )"
    R"(its filters from the address: <code>report.html#verdict=fail&amp;impl=my-*</code>, )"
    R"(<code>check=size/*</code>, <code>order=failures</code>; each cell's time links to the )"
    R"(cell itself.</p>
<p id="filter-note"></p>
)";

}  // namespace csd::report::html
