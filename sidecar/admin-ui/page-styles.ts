/** The admin page's stylesheet: plain CSS, one column on a phone, readable without zooming. */
export const PAGE_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f4f5f7; --card: #fff; --text: #1b1f24; --muted: #5b6470; --border: #d5d9e0;
  --accent: #0b6e4f; --accent-text: #fff; --danger: #b42318; --warn: #9a6700; --focus: #1d4ed8;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  font-size: 16px; line-height: 1.45;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #111418; --card: #1b2027; --text: #e6e9ee; --muted: #9aa4b1; --border: #323a45; --accent: #2fa37c; --danger: #f97066; --warn: #e3b341; --focus: #7aa2ff; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); }
.top { display: flex; align-items: center; justify-content: space-between; gap: 1rem; padding: .75rem 1rem; background: var(--card); border-bottom: 1px solid var(--border); }
h1 { font-size: 1.2rem; margin: 0; }
h1 .sub { font-weight: 400; color: var(--muted); font-size: .95rem; }
h2 { font-size: 1.1rem; margin: 0 0 .75rem; }
h3 { font-size: .95rem; margin: 1rem 0 .4rem; color: var(--muted); }
main { max-width: 56rem; margin: 0 auto; padding: 1rem; display: grid; grid-template-columns: minmax(0, 1fr); gap: 1rem; }
#app-view { display: grid; grid-template-columns: minmax(0, 1fr); gap: 1rem; }
#app-view[hidden], [hidden] { display: none !important; }
.card { background: var(--card); border: 1px solid var(--border); border-radius: .6rem; padding: 1rem; }
.narrow { max-width: 24rem; margin: 2rem auto; width: 100%; }
label { display: block; font-weight: 600; margin: .5rem 0 .25rem; }
input { font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--border); border-radius: .4rem; padding: .55rem .6rem; width: 100%; min-height: 2.75rem; }
button { font: inherit; cursor: pointer; border-radius: .4rem; border: 1px solid var(--border); background: var(--card); color: var(--text); padding: .55rem .9rem; min-height: 2.75rem; }
button:disabled { opacity: .5; cursor: not-allowed; }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); }
button.danger { color: var(--danger); border-color: var(--danger); }
button.quiet { background: transparent; }
button.small { min-height: 2.25rem; padding: .3rem .6rem; font-size: .9rem; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
form button[type=submit] { margin-top: .75rem; }
.row { display: flex; gap: .5rem; align-items: center; }
.row > input { flex: 1; }
.row button { margin-top: 0 !important; white-space: nowrap; }
.between { justify-content: space-between; }
.grid-form { display: grid; grid-template-columns: 1fr 1fr auto; gap: .5rem 1rem; align-items: end; }
.grid-form button { margin-top: 0; }
#key-form { grid-template-columns: 1fr auto; }
.controls { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: 1rem; }
.status p { margin: .25rem 0; }
.badge { display: inline-block; padding: .15rem .6rem; border-radius: 999px; font-weight: 700; border: 1px solid currentColor; }
.badge[data-state=open] { color: var(--accent); }
.badge[data-state=pairing], .badge[data-state=connecting] { color: var(--warn); }
.badge[data-state=paused], .badge[data-state=unpaired] { color: var(--muted); }
.badge[data-state=logged_out], .badge[data-state=offline] { color: var(--danger); }
.muted { color: var(--muted); }
.small { font-size: .9rem; }
.result { min-height: 1.45em; margin: .5rem 0 0; }
.result.error, .form-error { color: var(--danger); }
.result.ok { color: var(--accent); }
.notice { padding: .75rem 1rem; border-radius: .5rem; border: 1px solid var(--border); background: var(--card); }
.notice.error { border-color: var(--danger); color: var(--danger); }
.qr-box { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; margin: .75rem 0; }
.qr-box img { width: 264px; height: 264px; max-width: 100%; background: #fff; padding: 8px; border-radius: .4rem; image-rendering: pixelated; }
.qr-box p { flex: 1 1 14rem; margin: 0; }
.pairing-code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size: clamp(2rem, 9vw, 3.2rem); font-weight: 700; letter-spacing: .15em; margin: .25rem 0 .75rem; word-break: break-all; }
.pair-actions { display: grid; gap: .75rem; margin-top: .5rem; }
.pair-actions > button { justify-self: start; }
.inline-form label { font-weight: 400; }
.new-key { margin-top: .75rem; padding: .75rem; border: 2px dashed var(--accent); border-radius: .5rem; }
.new-key p { margin: 0 0 .4rem; }
.new-key input { font-family: ui-monospace, Menlo, Consolas, monospace; }
.table-wrap { overflow-x: auto; margin-top: .5rem; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .45rem .5rem; border-bottom: 1px solid var(--border); vertical-align: middle; }
th { color: var(--muted); font-weight: 600; }
td.actions { text-align: right; white-space: nowrap; }
td.actions button + button { margin-left: .3rem; }
td code, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .85rem; }
.state { font-weight: 600; }
.state-failed, .state-expired { color: var(--danger); }
.state-sent, .state-delivered, .state-read { color: var(--accent); }
code { font-family: ui-monospace, Menlo, Consolas, monospace; }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
#status-box[data-unreachable=true] #state-text { color: var(--danger); }
@media (max-width: 40rem) {
  main { padding: .6rem; }
  .card { padding: .75rem; }
  .grid-form, #key-form { grid-template-columns: 1fr; }
  .grid-form button { justify-self: start; }
  /* Two buttons a row at most, each allowed to wrap its label: none is pushed past the edge. */
  .controls button { flex: 1 1 40%; min-width: 0; white-space: normal; }
  /* Tables fit the screen rather than scroll: long names and ids wrap anywhere, the least useful
     columns (tries, updated) give way, and cells pad less. */
  th, td { padding: .4rem .25rem; }
  td { overflow-wrap: anywhere; }
  td.actions, td.actions button, td.state { overflow-wrap: normal; }
  th:nth-child(5), td:nth-child(5) { display: none; }
  #queue-table th:nth-child(4), #queue-table td:nth-child(4), #recent-table th:nth-child(4), #recent-table td:nth-child(4) { display: none; }
  td.actions button + button { margin-left: 0; margin-top: .3rem; }
  td.actions { white-space: normal; }
  td.actions button { white-space: nowrap; }
}
`;
