/// The report page's static style sheet and script, inlined in the page. Neither holds data,
/// nor any URL: system fonts only, no `url(`, no `@import`.
enum HTMLAssets {
    static let css = """
    :root{--ink:#1b1f24;--muted:#5d6773;--line:#dfe3e8;--soft:#f6f7f9;--blue:#2f6fb0;--amber:#b35c12;--red:#b42318;
    --mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace}
    *{box-sizing:border-box}
    html{-webkit-text-size-adjust:100%}
    body{margin:0;color:var(--ink);background:#fff;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans",sans-serif}
    header.top,nav.toc,main,footer{max-width:1240px;margin:0 auto;padding:0 24px}
    header.top{padding-top:28px}
    h1{font-size:1.75rem;margin:0 0 4px}
    h2{font-size:1.25rem;margin:0 0 6px;padding-top:8px}
    .meta{color:var(--muted);margin:0;overflow-wrap:anywhere}
    code{font-family:var(--mono);font-size:.88em}
    nav.toc{position:sticky;top:0;z-index:2;background:rgba(255,255,255,.96);border-bottom:1px solid var(--line);margin-top:14px}
    nav.toc ul{list-style:none;margin:0;padding:8px 0;display:flex;gap:4px 18px;flex-wrap:wrap}
    nav.toc a{color:var(--blue);text-decoration:none;font-size:.92rem;white-space:nowrap}
    nav.toc a:hover{text-decoration:underline}
    section{padding:22px 0 10px;border-bottom:1px solid var(--line);scroll-margin-top:48px}
    section:last-child{border-bottom:0}
    .lede{color:var(--muted);margin:0 0 14px;max-width:72ch}
    .empty{color:var(--muted);font-style:italic}
    .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:12px}
    .card{border:1px solid var(--line);border-radius:8px;padding:12px 14px;background:var(--soft)}
    .card .label{color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}
    .card .value{font-size:1.55rem;font-weight:650;font-variant-numeric:tabular-nums;margin-top:2px;overflow-wrap:anywhere}
    .card .value.small{font-size:1rem;font-weight:600;padding-top:4px;line-height:1.5}
    .card .value.small span{display:inline-block;min-width:4.2em;color:var(--muted);font-weight:400;font-size:.85rem}
    .card .note{color:var(--muted);font-size:.82rem;margin-top:2px}
    .card.accent{background:#eaf2fb;border-color:#b9d3ee}
    .card.accent .value{color:#1d4f86}
    .card.warn .value{color:var(--red)}
    .cards.kinds{grid-template-columns:repeat(auto-fill,minmax(180px,1fr));margin-bottom:14px}
    .cards.kinds .value{font-size:1.25rem}
    figure.chart{margin:16px 0 6px}
    figure.chart figcaption{color:var(--muted);font-size:.85rem;margin-top:4px}
    .svg-wrap{overflow-x:auto}
    svg.chart{display:block;max-width:100%;height:auto;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
    svg.chart .lbl{font-size:13px}
    svg.chart .val{font-size:13px;font-weight:600}
    svg.chart .sub{font-size:11.5px}
    svg.chart text:not([fill]){fill:#1b1f24}
    svg.chart text.sub:not([fill]){fill:#5d6773}
    .split{display:grid;grid-template-columns:minmax(0,1.15fr) minmax(0,1fr);gap:24px;align-items:start}
    .split figure.chart{margin-top:0}
    .split.overlap{grid-template-columns:auto minmax(240px,1fr)}
    .split.overlap figure.chart{margin:0}
    .stacked .top-pairs{margin-top:16px}
    .top-pairs h3{font-size:1rem;margin:0 0 6px}
    .top-pairs ol{margin:0;padding-left:1.4em}
    .top-pairs li{padding:3px 0;border-bottom:1px dashed var(--line)}
    .top-pairs li:last-child{border-bottom:0}
    .top-pairs .amount{font-weight:600;font-variant-numeric:tabular-nums}
    .top-pairs .n{color:var(--muted);font-size:.85rem}
    .sw-shared{background:#3a6fa1}
    .sw-inside{background:#b96823}
    .swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:4px;vertical-align:-1px}
    .tools{display:flex;gap:12px;align-items:center;margin:0 0 8px;flex-wrap:wrap}
    .tools[hidden]{display:none}
    .tools label{color:var(--muted);font-size:.9rem}
    .tools input{font:inherit;font-size:.9rem;padding:5px 8px;border:1px solid #c4cbd3;border-radius:6px;width:min(320px,70vw);color:var(--ink)}
    .tools .count{color:var(--muted);font-size:.85rem}
    .table-wrap{overflow:auto;border:1px solid var(--line);border-radius:8px;max-width:100%}
    .table-wrap.tall{max-height:70vh}
    table.data{border-collapse:separate;border-spacing:0;width:100%;font-size:.9rem}
    table.data th,table.data td{padding:7px 10px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
    table.data tbody tr:last-child td{border-bottom:0}
    table.data thead th{position:sticky;top:0;z-index:2;background:#eef1f4;font-weight:600;white-space:nowrap;font-size:.84rem}
    table.data td{background:#fff}
    table.data tbody tr:nth-child(even) td{background:#fafbfc}
    table.data.pin-first td:first-child,table.data.pin-first th:first-child{position:sticky;left:0;z-index:1;box-shadow:1px 0 0 var(--line)}
    table.data.pin-first thead th:first-child{z-index:3}
    table.data tbody tr:hover td{background:#f1f6fc}
    table.data .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
    table.data td.name{min-width:7rem;max-width:18rem;overflow-wrap:anywhere}
    table.data td.files{min-width:22rem}
    table.data td.path{min-width:12rem}
    .path{overflow-wrap:anywhere;word-break:break-word}
    .hash{color:var(--muted);white-space:nowrap}
    button.sort{all:unset;cursor:pointer;display:inline-flex;gap:4px;align-items:center}
    button.sort:focus-visible{outline:2px solid var(--blue);outline-offset:2px}
    button.sort::after{content:"\\2195";color:#9aa4af;font-size:.8em}
    th[aria-sort=ascending] button.sort::after{content:"\\25B2";color:var(--ink)}
    th[aria-sort=descending] button.sort::after{content:"\\25BC";color:var(--ink)}
    ul.copies,ul.sources,ul.chips{list-style:none;margin:0;padding:0}
    ul.similar{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:10px}
    ul.similar li{display:flex;gap:8px;align-items:flex-start;max-width:24rem;padding:4px;border:1px solid var(--line);border-radius:4px;background:#fff}
    ul.similar li.master{border-color:#2f6fb0}
    ul.similar img.thumb{flex:none;max-width:96px;max-height:96px;image-rendering:auto;background:#eee}
    ul.similar .nothumb{flex:none;width:96px;font-size:.75rem;color:var(--muted,#666)}
    ul.similar .about{overflow-wrap:anywhere;font-size:.85rem}
    ul.copies li,ul.sources li{padding:1px 0}
    ul.sources li{padding:3px 0}
    ul.sources li+li{border-top:1px dashed var(--line)}
    ul.chips{display:flex;flex-wrap:wrap;gap:4px}
    ul.chips li{background:#fff4e5;border:1px solid #f2cf9f;color:#7a3c00;border-radius:10px;padding:0 8px;font-size:.82rem;white-space:nowrap}
    .silo{display:inline-block;background:#e8eef6;color:#1d4f86;border-radius:4px;padding:0 6px;font-size:.8rem;font-weight:600;margin-right:2px;white-space:nowrap}
    .badge{display:inline-block;margin-left:6px;background:#eef1f4;color:var(--muted);border-radius:4px;padding:0 5px;font-size:.75rem}
    .value{font-weight:600}
    .from{display:block;color:var(--muted);font-size:.85rem}
    .origin{font-style:italic}
    .kind{font-weight:600;white-space:nowrap}
    .more code{white-space:nowrap}
    .more{margin:8px 0 0;padding:8px 12px;background:#fff8e6;border:1px solid #f1dca6;border-radius:6px;font-size:.9rem}
    .visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
    footer{color:var(--muted);font-size:.82rem;padding-top:14px;padding-bottom:28px}
    @media (max-width:900px){.split,.split.overlap{grid-template-columns:minmax(0,1fr)}}
    @media (max-width:600px){
      body{font-size:14px}
      header.top,nav.toc,main,footer{padding:0 12px}
      header.top{padding-top:16px}
      h1{font-size:1.4rem}
      nav.toc{position:static}
      nav.toc ul{gap:2px 12px}
      .cards,.cards.kinds{grid-template-columns:repeat(2,minmax(0,1fr));gap:8px}
      .card{padding:9px 10px}
      .card .value{font-size:1.2rem}
      table.data td.files{min-width:16rem}
      table.data td.name{min-width:8.5rem;max-width:45vw}
      .table-wrap.tall{max-height:80vh}
      .table-wrap.tall{max-height:none}
      table.data.stack,table.data.stack tbody,table.data.stack tr,table.data.stack td{display:block}
      table.data.stack thead{display:block}
      table.data.stack thead tr{display:flex;flex-wrap:wrap;gap:2px 14px;padding:6px 10px;background:#eef1f4}
      table.data.stack thead th{display:block;padding:2px 0;border:0;position:static;background:none}
      table.data.stack thead th[data-nosort]{display:none}
      table.data.stack tbody tr{padding:8px 10px;border-bottom:1px solid var(--line)}
      table.data.stack tbody tr:nth-child(even){background:#fafbfc}
      table.data.stack td{border:0;padding:1px 0;background:none!important;text-align:left}
      table.data.stack td.num{display:inline-block;margin-right:14px}
      table.data.stack td[data-label]::before{content:attr(data-label);display:block;color:var(--muted);font-size:.75rem}
      table.data.stack td.num[data-label]::before,table.data.stack td.sha[data-label]::before{display:inline;margin-right:5px}
      table.data.stack td.files{min-width:0;padding-top:4px}
      table.data.stack td.files::before{display:none}
      svg.heatmap .lbl{font-size:15px}
      svg.heatmap .val{font-size:17px;transform:translateY(6px)}
      svg.heatmap .cnt{display:none}
      svg.bars .lbl,svg.bars .val{font-size:15px}
    }
    @media print{
      @page{margin:14mm}
      *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
      body{font-size:10pt}
      header.top,nav.toc,main,footer{max-width:none;padding:0}
      nav.toc,.tools{display:none!important}
      button.sort{display:contents}
      button.sort::after{content:none!important}
      section{break-inside:auto;padding-top:12px}
      section.keep{break-inside:avoid}
      .lede{break-after:avoid}
      h2{break-after:avoid}
      .card,figure.chart,tr{break-inside:avoid}
      .table-wrap,.table-wrap.tall{overflow:visible;max-height:none;border:0}
      table.data thead{display:table-header-group}
      table.data thead th,table.data.pin-first td:first-child,table.data.pin-first th:first-child{position:static;box-shadow:none}
      svg.chart{min-width:0!important}
      table.data td.files{min-width:0}
      .svg-wrap{overflow:visible}
      .split{grid-template-columns:minmax(0,1fr)}
      tr[hidden]{display:table-row}
      a{color:inherit;text-decoration:none}
    }
    """

    /// Sorts a table when a header is clicked and filters its rows by a text box. Without it
    /// the page reads the same: the tables come sorted, every row is shown, the boxes stay hidden.
    static let script = """
    (function () {
      "use strict";
      var each = function (list, f) { Array.prototype.forEach.call(list, f); };
      each(document.querySelectorAll("table.sortable"), function (table) {
        var head = table.tHead && table.tHead.rows[0];
        var body = table.tBodies[0];
        if (!head || !body) { return; }
        each(head.cells, function (th, index) {
          if (th.hasAttribute("data-nosort")) { return; }
          var button = document.createElement("button");
          button.type = "button";
          button.className = "sort";
          while (th.firstChild) { button.appendChild(th.firstChild); }
          th.appendChild(button);
          button.addEventListener("click", function () {
            var rows = Array.prototype.slice.call(body.rows);
            var numeric = rows.every(function (r) { var c = r.cells[index]; return c && c.hasAttribute("data-sort"); });
            var current = th.getAttribute("aria-sort");
            var dir = current ? (current === "ascending" ? "descending" : "ascending") : (numeric ? "descending" : "ascending");
            each(head.cells, function (other) { other.removeAttribute("aria-sort"); });
            th.setAttribute("aria-sort", dir);
            var sign = dir === "ascending" ? 1 : -1;
            var keyed = rows.map(function (r, i) {
              var c = r.cells[index];
              var k = numeric ? parseFloat(c.getAttribute("data-sort")) : (c ? c.textContent.trim().toLowerCase() : "");
              return { row: r, key: k, i: i };
            });
            keyed.sort(function (a, b) {
              var d = numeric ? a.key - b.key : a.key.localeCompare(b.key, undefined, { numeric: true });
              return d !== 0 ? sign * d : a.i - b.i;
            });
            keyed.forEach(function (k) { body.appendChild(k.row); });
          });
        });
      });
      each(document.querySelectorAll("input.filter"), function (input) {
        var table = document.getElementById(input.getAttribute("data-table"));
        if (!table || !table.tBodies[0]) { return; }
        var tools = input.closest(".tools");
        var count = tools.querySelector(".count");
        var rows = Array.prototype.slice.call(table.tBodies[0].rows);
        var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
        tools.hidden = false;
        input.addEventListener("input", function () {
          var q = input.value.trim().toLowerCase();
          var shown = 0;
          rows.forEach(function (r, i) {
            var hit = q === "" || texts[i].indexOf(q) !== -1;
            r.hidden = !hit;
            if (hit) { shown += 1; }
          });
          count.textContent = q === "" ? "" : shown + " of " + rows.length + " rows";
        });
      });
    })();
    """
}
