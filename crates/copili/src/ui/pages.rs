//! The dashboard's one page: HTML, CSS and script inline, nothing fetched but this server's
//! own `/api/overview` (every 2 s) and `/logs/…` event streams, so it works with no network.
//! Every text from the server is set with `textContent`, never as HTML.

/// The page's Content-Security-Policy: its own inline style and script, requests to this
/// server only, no frames.
pub const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The page.
pub const INDEX: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>copili dashboard</title>
<style>
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#667085; --line:#e3e6ec;
  --ok:#1a7f37; --fail:#cf222e; --run:#0969da; --cancel:#9a6700; --skip:#8c959f; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
header { background:#1d2330; color:#fff; padding:10px 20px; display:flex; align-items:baseline; gap:16px; }
header h1 { font-size:17px; margin:0; font-weight:600; }
header .meta { color:#aab2c0; font-size:12px; }
main { padding:16px 20px; max-width:1200px; }
.pipeline { background:var(--card); border:1px solid var(--line); border-radius:8px; margin-bottom:16px; padding:14px 16px; }
.pipeline h2 { margin:0 0 2px; font-size:16px; display:flex; gap:10px; align-items:center; }
.sub { color:var(--muted); font-size:12px; word-break:break-all; }
h3 { font-size:13px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); margin:14px 0 6px; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; background:var(--skip); }
.s-running { background:var(--run); } .s-succeeded { background:var(--ok); } .s-failed { background:var(--fail); }
.s-cancelled { background:var(--cancel); } .s-skipped, .s-pending, .s-idle { background:var(--skip); }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:500; }
td.num { font-variant-numeric:tabular-nums; }
.containers { display:flex; flex-wrap:wrap; gap:6px; margin-bottom:8px; }
.container { border:1px solid var(--line); border-radius:6px; padding:3px 8px; font-size:13px; display:flex; gap:6px; align-items:center; }
.log { margin:6px 0 10px; }
.log .title { font-size:12px; color:var(--muted); margin-bottom:2px; }
.log pre { margin:0; background:#0d1117; color:#d6dde6; border-radius:6px; padding:8px 10px; height:220px; overflow:auto;
  font:12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space:pre-wrap; word-break:break-all; }
.empty { color:var(--muted); font-style:italic; }
.problem { color:var(--fail); }
a { color:var(--run); }
</style>
</head>
<body>
<header><h1>copili dashboard</h1><span class="meta" id="meta">loading…</span></header>
<main id="main"></main>
<script>
"use strict";
const MAX_LINES = 500;
const streams = new Map();
const main = document.getElementById("main");
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}
function badge(status) { return el("span", {class: "badge s-" + status}, status); }
function when(text) {
  if (!text) return "–";
  const d = new Date(text);
  if (isNaN(d)) return text;
  const two = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
    two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
}
function seconds(a, b) {
  const ms = new Date(b) - new Date(a);
  return isNaN(ms) ? "–" : (ms / 1000).toFixed(1) + "s";
}
function logPanel(key, name) {
  const id = key + "/" + name;
  let entry = streams.get(id);
  if (!entry) {
    const pre = el("pre", {"data-log": id});
    const panel = el("div", {class: "log"}, el("div", {class: "title"}, name + " — live log"), pre);
    const source = new EventSource("/logs/" + key + "/" + encodeURIComponent(name));
    entry = {panel, pre, source, follow: true};
    // Scrolled up, the log stays where it is; scrolled to the end, it follows again.
    pre.addEventListener("scroll", () => {
      if (pre.isConnected) entry.follow = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    });
    source.onmessage = (event) => {
      pre.append(el("div", {class: "line"}, event.data));
      while (pre.childNodes.length > MAX_LINES) pre.firstChild.remove();
      if (entry.follow) pre.scrollTop = pre.scrollHeight;
    };
    streams.set(id, entry);
  }
  entry.seen = true;
  return entry.panel;
}
function pipelineCard(p) {
  const status = p.running ? "running" : "idle";
  const proc = p.process;
  const card = el("section", {class: "pipeline", "data-pipeline": p.identity},
    el("h2", {}, p.identity, badge(status)),
    el("div", {class: "sub"}, p.state_file +
      (proc ? " · " + proc.command + " (pid " + proc.pid + ") since " + when(proc.started_at) : "")));
  if (p.problem) card.append(el("div", {class: "problem"}, p.problem));
  card.append(el("h3", {}, "Current run"));
  if (p.current_runs.length === 0) card.append(el("div", {class: "empty"}, p.running ? "waiting for the next due run" : "not running"));
  for (const run of p.current_runs) {
    card.append(el("div", {class: "sub"}, "run " + run.run_id + " started " + when(run.started_at)));
    const list = el("div", {class: "containers"});
    const running = [];
    for (const c of run.containers) {
      if (c.status === "skipped" && c.reason === "not due") continue;
      list.append(el("span", {class: "container", "data-container": c.name, "data-status": c.status}, c.name, badge(c.status)));
      if (c.status === "running") running.push(c.name);
    }
    card.append(list);
    for (const name of running) card.append(logPanel(p.key, name));
  }
  card.append(el("h3", {}, "Next due"));
  if (p.next_due.length === 0) card.append(el("div", {class: "empty"}, p.running ? "none scheduled yet" : "not scheduled: no service is running"));
  else {
    const table = el("table", {}, el("tr", {}, el("th", {}, "container"), el("th", {}, "next due"), el("th", {}, "last slot")));
    for (const n of p.next_due) table.append(el("tr", {}, el("td", {}, n.name), el("td", {}, n.next_due ? when(n.next_due) : "not scheduled"), el("td", {}, when(n.last_due))));
    card.append(table);
  }
  card.append(el("h3", {}, "History"));
  if (p.history.length === 0) card.append(el("div", {class: "empty"}, "no runs yet"));
  else {
    const table = el("table", {class: "history"}, el("tr", {}, el("th", {}, "started"), el("th", {}, "command"),
      el("th", {}, "exit"), el("th", {}, "duration"), el("th", {}, "containers"), el("th", {}, "report")));
    for (const run of p.history.slice(0, 20)) {
      const counts = {};
      for (const s of Object.values(run.results)) counts[s] = (counts[s] || 0) + 1;
      const summary = el("td", {});
      for (const [s, n] of Object.entries(counts)) summary.append(badge(s), " " + n + " ");
      const link = run.report ? el("a", {href: "/runs/" + p.key + "/" + encodeURIComponent(run.run_id)}, run.run_id) : el("span", {class: "sub"}, run.run_id);
      table.append(el("tr", {}, el("td", {}, when(run.started_at)), el("td", {}, run.command),
        el("td", {class: "num"}, String(run.exit_code)), el("td", {class: "num"}, seconds(run.started_at, run.finished_at)), summary, el("td", {}, link)));
    }
    card.append(table);
  }
  return card;
}
async function refresh() {
  try {
    const response = await fetch("/api/overview", {cache: "no-store"});
    if (!response.ok) throw new Error(response.status + " " + response.statusText);
    const overview = await response.json();
    for (const entry of streams.values()) entry.seen = false;
    const cards = overview.pipelines.map(pipelineCard);
    for (const [id, entry] of streams) if (!entry.seen) { entry.source.close(); streams.delete(id); }
    const kept = new Map();
    for (const entry of streams.values()) kept.set(entry, entry.pre.scrollTop);
    main.replaceChildren(...cards);
    // Moved into the new cards, each log keeps its place, or its end.
    for (const [entry, top] of kept) entry.pre.scrollTop = entry.follow ? entry.pre.scrollHeight : top;
    if (cards.length === 0) main.append(el("div", {class: "empty"}, "no pipeline in " + overview.state_dirs.join(", ")));
    document.getElementById("meta").textContent = overview.state_dirs.join(", ") + " · updated " + when(new Date().toISOString());
  } catch (error) {
    document.getElementById("meta").textContent = "cannot reach copili: " + error.message;
  }
}
if (location.search.includes("token=")) history.replaceState(null, "", "/");
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"##;
