/**
 * The /debug page: a static shell with the first state as a JSON data block; its script
 * (`/debug/debug.js`, compiled from debugClient.ts) renders it and keeps it live. No value is ever
 * written into the HTML itself: the data block is JSON with every `<`, `>` and `&` escaped, which the
 * script reads and shows with `textContent` only.
 */

/** JSON safe inside a `<script type="application/json">` element: nothing in it can close the element. */
export function jsonForHtml(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const STYLE = `
:root{--fg:#1d2330;--muted:#667085;--line:#e3e6ec;--bg:#f7f8fa;--card:#fff;--accent:#2456d6}
*{box-sizing:border-box}
body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);background:var(--bg)}
header{display:flex;align-items:center;gap:1em;padding:.6em 1.5em;background:#111827;color:#fff;position:sticky;top:0;z-index:2}
header h1{font-size:16px;margin:0;font-weight:600}
header .sub{color:#9ca3af}
#live-status{margin-left:auto;font-size:12px;color:#9ca3af}
#live-status.ok::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;background:#22c55e;margin-right:6px}
#live-status.error::before,#live-status.paused::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;background:#f59e0b;margin-right:6px}
header button{background:#374151;color:#fff;border:0;border-radius:4px;padding:3px 10px;cursor:pointer}
main{padding:1em 1.5em 3em}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8em 1em;margin-bottom:1.2em}
h2{font-size:14px;margin:.1em 0 .6em}
h3{font-size:13px;margin:.8em 0 .3em}
p.note{color:var(--muted);margin:.2em 0 .6em}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
.nowrap{white-space:nowrap}
.small{font-size:11px}
.clamp{display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden;max-width:36em}
th{font-weight:600;color:var(--muted);font-size:12px;white-space:nowrap}
td{overflow-wrap:anywhere}
#events td{overflow-wrap:normal}
#events td.ids{word-break:break-all;font-size:11px;max-width:16em}
#requests pre,#conflicts pre{max-height:8em}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre,.mono{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{margin:.2em 0;white-space:pre-wrap;overflow-wrap:anywhere;background:#f3f4f6;border-radius:4px;padding:6px 8px;max-height:24em;overflow:auto}
.chip{display:inline-block;border-radius:10px;padding:0 8px;margin:1px 3px 1px 0;font-size:11px;line-height:18px;white-space:nowrap;border:1px solid transparent}
.v-delivered{background:#dcfce7;color:#14532d}
.v-pending{background:#fef3c7;color:#78350f}
.v-skipped{background:#e5e7eb;color:#374151}
.v-rejected{background:#fee2e2;color:#991b1b}
.v-dead{background:#7f1d1d;color:#fff}
.v-dry-run{background:#dbeafe;color:#1e3a8a}
.v-not-routed{background:#fff;color:#6b7280;border:1px dashed #cbd5e1}
.s-active{color:#15803d}.s-backing-off{color:#b45309}.s-paused{color:#b91c1c}
#filters{display:flex;flex-wrap:wrap;gap:.5em;align-items:end;margin-bottom:.6em}
#filters label{display:flex;flex-direction:column;font-size:11px;color:var(--muted)}
#filters input,#filters select{font:12px system-ui;padding:3px 5px;border:1px solid #cbd5e1;border-radius:4px;min-width:8em}
#filters button,.try{font:12px system-ui;padding:3px 10px;border:1px solid #cbd5e1;border-radius:4px;background:#fff;cursor:pointer}
.try{border-color:var(--accent);color:var(--accent)}
.try:disabled{opacity:.5;cursor:default}
.split{display:grid;grid-template-columns:minmax(0,1.3fr) minmax(0,1fr);gap:1em}
@media (max-width:1100px){.split{grid-template-columns:1fr}}
#events tbody tr{cursor:pointer}
#events tbody tr:hover{background:#f8fafc}
#events tbody tr.selected{background:#eef2ff}
#events-wrap{max-height:70vh;overflow:auto}
#detail{border-left:3px solid var(--line);padding-left:1em;min-width:0}
.verdict{border:1px solid var(--line);border-radius:6px;padding:.5em .7em;margin:.5em 0}
.verdict .head{display:flex;gap:.6em;align-items:center}
.verdict .head strong{font-size:13px}
.reason{margin:.3em 0}
.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:1px .8em;margin:.3em 0;font-size:12px}
.facts dt{color:var(--muted)}
.facts dd{margin:0;overflow-wrap:anywhere}
#detail pre{max-height:14em}
.muted{color:var(--muted)}
.empty{color:var(--muted);font-style:italic}
#try-result{margin-top:.8em}
`;

const FILTERS = `
<form id="filters" autocomplete="off">
  <label>event id<input name="id" placeholder="exact id"></label>
  <label>name<input name="name" placeholder="purchase"></label>
  <label>destination<select name="destination"><option value="">any</option></select></label>
  <label>verdict<select name="verdict"><option value="">any</option></select></label>
  <label>click id<input name="clickId" placeholder="exact value"></label>
  <label>since<input name="since" type="datetime-local" step="1"></label>
  <label>until<input name="until" type="datetime-local" step="1"></label>
  <button type="reset" id="clear-filters">Clear</button>
  <span id="event-count" class="muted"></span>
</form>`;

/** The page: `initial` is what `/debug/api/live` would answer now, shown before the first poll. */
export function debugPage(initial: unknown): string {
  return `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>tagrelay debug</title>
<style>${STYLE}</style>
<header><h1>tagrelay</h1><span class="sub">debug</span><span id="live-status">loading…</span><button type="button" id="pause">Pause</button></header>
<main>
<section id="destinations-section">
  <h2>Destinations</h2>
  <p class="note">Live delivery state and counts per destination. <b>Try</b> sends a sample event to one destination and shows the exact request (secrets and the sample's personal data redacted) and the vendor's answer; nothing is stored.</p>
  <table id="destinations"><thead><tr><th>destination</th><th>state</th><th>routes</th><th>pending</th><th>oldest pending</th><th>delivered</th><th>skipped</th><th>rejected</th><th>dead</th><th>try</th></tr></thead><tbody></tbody></table>
  <div id="try-result" hidden></div>
</section>
<section id="events-section">
  <h2>Events</h2>
  <p class="note">Newest first, updated live. Each chip is one destination's verdict; click an event to see why, with the request recorded and the vendor's answer.</p>
  ${FILTERS}
  <div class="split">
    <div id="events-wrap"><table id="events"><thead><tr><th>received</th><th>event</th><th>id</th><th>click ids</th><th>verdicts</th></tr></thead><tbody></tbody></table></div>
    <aside id="detail"><p class="empty">Click an event to see, for every destination, what became of it and why.</p></aside>
  </div>
</section>
<section id="refusals-section">
  <h2>Refused at ingest</h2>
  <p class="note">The last requests and events /collect refused, with the reason (a beacon cannot tell the browser). Kept in memory: the last 200 since this collector started.</p>
  <table id="refusals"><thead><tr><th>at</th><th>status</th><th>event</th><th>reason</th></tr></thead><tbody></tbody></table>
</section>
<section id="conflicts-section">
  <h2>Id conflicts</h2>
  <p class="note">Events whose id was already stored with other content: not stored (give each event its own id).</p>
  <table id="conflicts"><thead><tr><th>received</th><th>id</th><th>name</th><th>event (without personal data)</th></tr></thead><tbody></tbody></table>
</section>
<section id="requests-section">
  <h2>Recent deliveries</h2>
  <p class="note">The latest deliveries created, with the request recorded (secrets and personal data redacted; its body is removed once the event is done, except in dry runs) and the vendor's answer.</p>
  <table id="requests"><thead><tr><th>updated</th><th>event</th><th>destination</th><th>state</th><th>attempts</th><th>status</th><th>answer</th><th>request</th></tr></thead><tbody></tbody></table>
</section>
</main>
<script type="application/json" id="tagrelay-initial">${jsonForHtml(initial)}</script>
<script type="module" src="/debug/debug.js"></script>
</html>
`;
}
