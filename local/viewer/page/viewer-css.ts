/** The viewer's stylesheet, `GET /viewer/viewer.css` (see index-html.ts for why it is a module). */
export const viewerCss = String.raw`:root {
  color-scheme: light dark;
  --fg: #1d2330;
  --muted: #5b6577;
  --bg: #ffffff;
  --panel: #f4f6f9;
  --line: #d9dee7;
  --accent: #2456c7;
  --ok: #1f7a3a;
  --bad: #b3261e;
  --wait: #a05a00;
  --idle: #7a8499;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e6e9ef;
    --muted: #9aa3b5;
    --bg: #14171d;
    --panel: #1d222b;
    --line: #333a47;
    --accent: #7aa2ff;
    --ok: #5cc27a;
    --bad: #ff7b72;
    --wait: #e3a33b;
    --idle: #8a93a6;
  }
}
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); }
main { max-width: 72rem; margin: 0 auto; padding: 0 1rem 3rem; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
h1 { font-size: 1.5rem; margin: 1rem 0 0.75rem; word-break: break-all; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem 0.75rem; overflow: auto; max-height: 20rem; margin: 0.25rem 0; font-size: 0.85rem; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.muted { color: var(--muted); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
[hidden] { display: none !important; }

.masthead { display: flex; gap: 1rem; align-items: baseline; justify-content: space-between; padding: 0.6rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); }
.masthead p { margin: 0; }
.brand { font-weight: 600; }
.brand a { text-decoration: none; }

.notice { margin: 1rem 0 0; padding: 0.5rem 0.75rem; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); }
.notice.error { border-color: var(--bad); color: var(--bad); }

button { font: inherit; padding: 0.3rem 0.8rem; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); color: var(--fg); cursor: pointer; }
button:hover { border-color: var(--accent); }
button:disabled { opacity: 0.55; cursor: progress; }
button.danger { color: var(--bad); }
input, select, textarea { font: inherit; padding: 0.25rem 0.4rem; border: 1px solid var(--line); border-radius: 5px; background: var(--bg); color: var(--fg); }
textarea { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; width: 100%; min-width: 16rem; }
label { display: inline-flex; flex-direction: column; gap: 0.15rem; font-size: 0.85rem; color: var(--muted); }
label > * { color: var(--fg); }

.filters, .action-form { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: flex-end; margin: 0.5rem 0 1rem; }
.action-form label:has(textarea) { flex: 1 1 20rem; }

table.executions { width: 100%; border-collapse: collapse; font-size: 0.9rem; }
.executions th, .executions td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.executions th { font-weight: 600; color: var(--muted); }
.executions td:first-child { word-break: break-all; }

.status { display: inline-block; padding: 0 0.5rem; border-radius: 999px; font-size: 0.8rem; font-weight: 600; border: 1px solid currentColor; }
.status-running, .status-sleeping { color: var(--wait); }
.status-completed { color: var(--ok); }
.status-failed { color: var(--bad); }
.status-canceled, .status-terminated { color: var(--idle); }
.tag { display: inline-block; margin: 0 0.25rem 0.15rem 0; padding: 0 0.35rem; border-radius: 4px; background: var(--panel); border: 1px solid var(--line); font-size: 0.8rem; }

.summary { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; margin: 0; }
.summary dt { color: var(--muted); }
.summary dd { margin: 0; word-break: break-all; }

.failure { border-left: 4px solid var(--bad); padding-left: 0.75rem; }
.failure .message { font-weight: 600; color: var(--bad); margin: 0.25rem 0; }

.timeline { list-style: none; margin: 0; padding: 0; border-top: 1px solid var(--line); }
.timeline > li { display: grid; grid-template-columns: minmax(10rem, 16rem) minmax(0, 1fr); gap: 0.2rem 1rem; padding: 0.45rem 0; border-bottom: 1px solid var(--line); }
.row-label { display: flex; gap: 0.4rem; align-items: baseline; min-width: 0; }
.row-kind { font-size: 0.72rem; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); min-width: 5.6rem; }
.row-name { font-weight: 600; overflow-wrap: anywhere; }
.track { position: relative; height: 1.1rem; background: var(--panel); border-radius: 4px; align-self: center; }
.bar { position: absolute; top: 0.2rem; bottom: 0.2rem; min-width: 3px; border-radius: 3px; background: var(--idle); }
.bar.point { width: 3px; top: 0; bottom: 0; }
.bar.ok { background: var(--ok); }
.bar.bad { background: var(--bad); }
.bar.open { background: repeating-linear-gradient(45deg, var(--wait) 0 6px, transparent 6px 9px); border: 1px solid var(--wait); }
.bar.waiting { background: var(--wait); opacity: 0.55; }
.row-facts { grid-column: 2; font-size: 0.85rem; color: var(--muted); margin: 0; }
.row-facts .fact-status { font-weight: 600; }
.row-facts.ok .fact-status { color: var(--ok); }
.row-facts.bad .fact-status { color: var(--bad); }
.row-facts.open .fact-status { color: var(--wait); }
.row-details { grid-column: 2; margin: 0; padding-left: 1.1rem; font-size: 0.85rem; }
.row-details pre { max-height: 8rem; }

.value-ref { margin: 0.25rem 0; min-width: 0; }
/* A loaded value is often one long string: wrapped, it scrolls one way only. */
.value-ref pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.value-facts { margin: 0.15rem 0; }
.value-label { font-weight: 600; }
.value-size { font-variant-numeric: tabular-nums; }
.value-facts button { padding: 0.1rem 0.6rem; margin-left: 0.25rem; }
.value-note { margin: 0.15rem 0; font-size: 0.85rem; }
.value-error { margin: 0.15rem 0; color: var(--bad); }

.events { font-size: 0.82rem; padding-left: 2.5rem; }
.events li { margin: 0.2rem 0; }

@media (max-width: 40rem) {
  .timeline > li { grid-template-columns: 1fr; }
  .row-facts, .row-details { grid-column: 1; }
}
`;
