// Cairn web console. Plain JavaScript, no framework: it reads one JSON
// snapshot (GET /console/api/snapshot), then follows the server-sent
// events of /console/api/events, redrawing the page from each snapshot.
// Every value from the server goes into the page as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";

// el builds an element: el("td", {class: "num"}, "42", child, ...).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const k of kids) {
    if (k === undefined || k === null) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

const state = { snap: null, es: null, lastAt: 0, retry: null, page: "cluster" };

// ---- pages and login ------------------------------------------------

function showPage() {
  const page = location.hash === "#sql" ? "sql" : "cluster";
  state.page = page;
  $("page-cluster").hidden = page !== "cluster";
  $("page-sql").hidden = page !== "sql";
  $("tab-cluster").classList.toggle("active", page === "cluster");
  $("tab-sql").classList.toggle("active", page === "sql");
}

function showLogin(msg) {
  stopEvents();
  $("login").hidden = false;
  $("page-cluster").hidden = true;
  $("page-sql").hidden = true;
  $("logout").hidden = true;
  setLive("down", "not logged in");
  const e = $("login-error");
  e.hidden = !msg;
  e.textContent = msg || "";
}

function hideLogin() {
  $("login").hidden = true;
  showPage();
}

// errorText renders an API error reply {"error": {code, message, hint}}.
async function errorText(resp) {
  try {
    const j = await resp.json();
    // The admin API's shape {"error": {code, message, hint}}, or the
    // flat one of the HTTP front door's refusals {"error", "code", "hint"}.
    const e = typeof j.error === "string" ? { code: j.code, message: j.error, hint: j.hint } : (j.error || {});
    let s = (e.code ? e.code + ": " : "") + (e.message || resp.statusText);
    if (e.hint) s += "\nHint: " + e.hint;
    return s;
  } catch (_) {
    return "HTTP " + resp.status + " " + resp.statusText;
  }
}

async function login(ev) {
  ev.preventDefault();
  const resp = await fetch("/api/v1/login", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: $("login-user").value, password: $("login-password").value }),
  });
  if (!resp.ok) { showLogin(await errorText(resp)); return; }
  $("login-password").value = "";
  start();
}

async function logout() {
  await fetch("/api/v1/logout", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: "{}" });
  showLogin("");
}

// ---- live updates ----------------------------------------------------

function setLive(cls, text) {
  $("live-dot").className = "dot " + cls;
  $("live-text").textContent = text;
}

function stopEvents() {
  if (state.es) { state.es.close(); state.es = null; }
  if (state.retry) { clearTimeout(state.retry); state.retry = null; }
}

async function start() {
  stopEvents();
  let resp;
  try {
    resp = await fetch("/console/api/snapshot", { credentials: "same-origin" });
  } catch (e) {
    setLive("down", "node unreachable, retrying");
    state.retry = setTimeout(start, 2000);
    return;
  }
  if (resp.status === 401) { showLogin(""); return; }
  if (!resp.ok) {
    setLive("down", await errorText(resp));
    state.retry = setTimeout(start, 2000);
    return;
  }
  hideLogin();
  render(await resp.json());
  whoami();
  const es = new EventSource("/console/api/events");
  state.es = es;
  es.addEventListener("snapshot", (m) => render(JSON.parse(m.data)));
  es.onerror = () => {
    // A dropped stream reconnects by itself; a refused one (401, 503) is
    // closed: start over, which also finds out whether to log in.
    if (es.readyState === EventSource.CLOSED) {
      setLive("down", "live updates stopped, retrying");
      state.retry = setTimeout(start, 2000);
    } else {
      setLive("stale", "reconnecting…");
    }
  };
}

async function whoami() {
  try {
    const r = await fetch("/console/api/whoami", { credentials: "same-origin" });
    if (!r.ok) return;
    const j = await r.json();
    $("whoami").textContent = "user " + j.user;
    $("logout").hidden = !j.session;
  } catch (_) { /* the snapshot's status line says what is wrong */ }
}

// Mark the page stale when pushes stop arriving.
setInterval(() => {
  if (!state.lastAt) return;
  const age = (Date.now() - state.lastAt) / 1000;
  if (age > 5) setLive("stale", "no update for " + Math.round(age) + " s");
}, 1000);

// ---- rendering -------------------------------------------------------

const isTrue = (v) => v === "t" || v === "true";
const num = (v) => (v === null || v === undefined || v === "" ? null : Number(v));

function render(s) {
  state.snap = s;
  state.lastAt = Date.now();
  setLive("ok", "live · node " + s.node + " · " + new Date(s.at).toLocaleTimeString());
  document.body.dataset.snapshotAt = s.at;
  const errs = Object.entries(s.errors || {}).map(([k, v]) => k + ": " + v);
  $("errors").hidden = errs.length === 0;
  $("errors").textContent = errs.join("\n");
  renderNodes(s);
  renderShards(s);
  renderOperations(s);
  renderTimeline(s);
  renderViews(s);
  renderCharts(s);
}

function healthOf(s, name) {
  if (!s.health) return "—";
  const h = s.health.find((r) => r.node === name);
  return h && h.score !== null && h.score !== undefined ? h.score : "—";
}

// scoreClass colours a health score: good from 80, poor below 50.
function scoreClass(v) {
  if (typeof v !== "string" || !/^[0-9]+$/.test(v)) return "";
  const n = Number(v);
  return n >= 80 ? "good" : n >= 50 ? "fair" : "poor";
}

function renderNodes(s) {
  const byRegion = new Map();
  for (const n of s.nodes) {
    const region = n.region || "(no region)", zone = n.zone || "(no zone)";
    if (!byRegion.has(region)) byRegion.set(region, new Map());
    const zones = byRegion.get(region);
    if (!zones.has(zone)) zones.set(zone, []);
    zones.get(zone).push(n);
  }
  const map = $("node-map");
  map.replaceChildren();
  const counts = {};
  for (const [region, zones] of [...byRegion].sort()) {
    const r = el("div", { class: "region", "data-region": region }, el("h3", {}, "region " + region));
    for (const [zone, nodes] of [...zones].sort()) {
      const z = el("div", { class: "zone", "data-zone": zone }, el("h4", {}, "zone " + zone));
      const list = el("div", { class: "zone-nodes" });
      nodes.sort((a, b) => (a.node_id < b.node_id ? -1 : 1));
      for (const n of nodes) {
        counts[n.state] = (counts[n.state] || 0) + 1;
        list.append(el("div", { class: "node state-" + n.state, "data-node": n.node_id, "data-state": n.state },
          el("span", { class: "state" }, n.state),
          el("div", { class: "name" }, n.node_id),
          el("dl", {},
            el("dt", {}, "health"), el("dd", { class: "score " + scoreClass(healthOf(s, n.node_id)), "data-score": "" }, healthOf(s, n.node_id)),
            el("dt", {}, "leaders"), el("dd", {}, n.leaders ?? "—"),
            el("dt", {}, "replicas"), el("dd", {}, n.replicas ?? "—"),
            el("dt", {}, "role"), el("dd", {}, n.role),
            el("dt", {}, "address"), el("dd", {}, n.address || ""),
            el("dt", {}, "heartbeat"), el("dd", {}, n.last_heartbeat ? new Date(n.last_heartbeat).toLocaleTimeString() : "—"))));
      }
      z.append(list);
      r.append(z);
    }
    map.append(r);
  }
  $("nodes-summary").textContent = Object.entries(counts).map(([k, v]) => v + " " + k).join(", ");
}

function renderShards(s) {
  const groups = new Map();
  for (const r of s.shards) {
    const key = r.object + "/" + r.shard;
    if (!groups.has(key)) groups.set(key, { object: r.object, shard: r.shard, group: r.group_id, reps: [] });
    groups.get(key).reps.push(r);
  }
  const rows = [...groups.values()].sort((a, b) => a.object < b.object ? -1 : a.object > b.object ? 1 : num(a.shard) - num(b.shard));
  const t = el("table", {}, el("tr", {}, el("th", {}, "object"), el("th", {}, "shard"), el("th", {}, "group"),
    el("th", {}, "leader"), el("th", {}, "replicas (node · applied index · lag)")));
  for (const g of rows) {
    const leader = g.reps.find((r) => r.role === "leader");
    const cell = el("td", {});
    g.reps.sort((a, b) => (a.node_id < b.node_id ? -1 : 1));
    for (const r of g.reps) {
      const alive = isTrue(r.is_alive);
      cell.append(el("span", { class: "replica" + (r.role === "leader" ? " leader" : "") + (alive ? "" : " down"),
        "data-node": r.node_id, "data-role": r.role, "data-alive": alive ? "true" : "false",
        title: r.role + (alive ? "" : " (node not alive)") },
        r.node_id + " · " + (r.applied_index ?? "?") + " · " + (r.lag ?? "?")));
    }
    t.append(el("tr", { "data-shard": g.object + "/" + g.shard, "data-leader": leader ? leader.node_id : "" },
      el("td", {}, g.object), el("td", { class: "num" }, g.shard), el("td", { class: "num" }, g.group),
      el("td", {}, leader ? leader.node_id : "none"), cell));
  }
  $("shards").replaceChildren(rows.length ? t : el("p", { class: "muted" }, "No shards yet: CREATE STREAM makes some."));
}

function renderOperations(s) {
  if (!s.operations.length) { $("operations").replaceChildren(el("p", { class: "muted" }, "No operations.")); return; }
  const t = el("table", {}, el("tr", {}, el("th", {}, "id"), el("th", {}, "type"), el("th", {}, "target"),
    el("th", {}, "status"), el("th", {}, "progress"), el("th", {}, "step")));
  for (const o of s.operations) {
    let p = num(o.progress) || 0;
    if (p <= 1) p *= 100;
    if (o.status === "done") p = 100;
    const bar = el("div", {});
    bar.style.width = Math.max(0, Math.min(100, p)) + "%";
    t.append(el("tr", { "data-op": o.op_id, "data-status": o.status },
      el("td", { class: "num" }, o.op_id), el("td", {}, o.op_type), el("td", {}, o.target), el("td", {}, o.status),
      el("td", {}, el("div", { class: "progress " + o.status, title: p.toFixed(0) + "%" }, bar)),
      el("td", {}, o.error ? "error: " + o.error : (o.current_step || ""))));
  }
  $("operations").replaceChildren(t);
}

function renderTimeline(s) {
  const ol = $("timeline");
  ol.replaceChildren();
  const evs = [...s.timeline].reverse();
  if (!evs.length) { ol.append(el("li", { class: "muted" }, "Nothing happened yet.")); return; }
  for (const e of evs) {
    ol.append(el("li", { "data-kind": e.kind },
      el("time", { datetime: e.at }, new Date(e.at).toLocaleTimeString()),
      el("span", { class: "kind kind-" + e.kind }, e.kind), " ", e.subject, ": ", e.detail));
  }
}

function renderViews(s) {
  if (!s.views.length) { $("views").replaceChildren(el("p", { class: "muted" }, "No views.")); return; }
  const t = el("table", {}, el("tr", {}, el("th", {}, "view"), el("th", {}, "stream"), el("th", {}, "ha"),
    el("th", {}, "back-fill"), el("th", {}, "lag (events)"), el("th", {}, "lag (s)"), el("th", {}, "freshness")));
  for (const v of s.views) {
    const lag = (s.view_lag || {})[v.name];
    let bf = "—";
    if (v.backfill_target !== null) bf = v.backfilled === "t" ? "done" : (v.backfill_done ?? "?") + " / " + v.backfill_target;
    let fresh = "—";
    if (v.ha === "scheduled") fresh = v.last_checkpoint_at ? "checkpoint " + new Date(v.last_checkpoint_at).toLocaleTimeString() : "no checkpoint yet";
    else if (lag) fresh = lag.events === 0 ? "up to date" : "behind";
    if (v.watermark) fresh += " · watermark " + new Date(v.watermark).toLocaleTimeString();
    t.append(el("tr", { "data-view": v.name }, el("td", {}, v.name), el("td", {}, v.stream), el("td", {}, v.ha),
      el("td", {}, bf), el("td", { class: "num" }, lag ? lag.events : "—"),
      el("td", { class: "num" }, lag ? lag.seconds.toFixed(2) : "—"), el("td", {}, fresh)));
  }
  $("views").replaceChildren(t);
}

// chart draws lines (arrays of numbers over xs) as SVG.
function chart(box, xs, lines) {
  const W = 600, H = 140, L = 44, B = 16;
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none" });
  let max = 0;
  for (const l of lines) for (const v of l.ys) max = Math.max(max, v);
  max = max > 0 ? max * 1.1 : 1;
  s.append(svg("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }));
  s.append(svg("line", { x1: L, y1: 4, x2: L, y2: H - B, class: "axis" }));
  const top = svg("text", { x: 2, y: 12 }); top.textContent = fmt(max); s.append(top);
  const zero = svg("text", { x: 2, y: H - B }); zero.textContent = "0"; s.append(zero);
  if (xs.length > 1) {
    const x0 = xs[0], x1 = xs[xs.length - 1];
    const span = Math.max(1, x1 - x0);
    const lbl = svg("text", { x: L, y: H - 2 }); lbl.textContent = Math.round(span / 1000) + " s ago"; s.append(lbl);
    for (const l of lines) {
      const pts = l.ys.map((v, i) => (L + (xs[i] - x0) / span * (W - L)).toFixed(1) + "," + (H - B - v / max * (H - B - 6)).toFixed(1));
      s.append(svg("polyline", { points: pts.join(" "), class: l.cls }));
    }
    const last = svg("text", { x: W - 120, y: 12 });
    last.textContent = "now " + lines.map((l) => fmt(l.ys[l.ys.length - 1])).join(" / ");
    s.append(last);
  } else {
    const w = svg("text", { x: L + 10, y: H / 2 }); w.textContent = "collecting samples…"; s.append(w);
  }
  box.replaceChildren(s);
}

function fmt(v) {
  if (v >= 1000) return (v / 1000).toFixed(1) + "k";
  if (v >= 10) return v.toFixed(0);
  return v.toFixed(2);
}

function renderCharts(s) {
  const se = s.series;
  chart($("chart-throughput"), se.at, [{ ys: se.events_per_sec, cls: "l1" }]);
  chart($("chart-latency"), se.at, [{ ys: se.commit_avg_ms, cls: "l1" }, { ys: se.commit_p99_ms, cls: "l2" }]);
}

// ---- SQL page --------------------------------------------------------

async function runSQL(ev) {
  if (ev) ev.preventDefault();
  $("sql-error").hidden = true;
  $("sql-status").textContent = "running…";
  let resp;
  try {
    resp = await fetch("/console/api/sql", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sql: $("sql-text").value }) });
  } catch (e) {
    $("sql-status").textContent = "";
    $("sql-error").hidden = false;
    $("sql-error").textContent = "the node did not answer: " + e;
    return;
  }
  $("sql-status").textContent = "";
  if (resp.status === 401) { showLogin("Your session ended: log in again."); return; }
  if (!resp.ok) {
    $("sql-result").replaceChildren();
    $("sql-error").hidden = false;
    $("sql-error").textContent = await errorText(resp);
    return;
  }
  const r = await resp.json();
  const t = el("table", { id: "sql-table" }, el("tr", {}, ...r.columns.map((c) => el("th", {}, c))));
  for (const row of r.rows) {
    t.append(el("tr", {}, ...row.map((v) => v === null ? el("td", { class: "null" }, "NULL") : el("td", {}, v))));
  }
  $("sql-status").textContent = r.tag + " · " + r.rows.length + " rows" + (r.truncated ? " (more not shown)" : "") + " · " + r.ms + " ms";
  $("sql-result").replaceChildren(t, ...(r.notices || []).map((n) => el("p", { class: "muted" }, "NOTICE: " + n)));
}

// ---- start -----------------------------------------------------------

window.addEventListener("hashchange", () => { if ($("login").hidden) showPage(); });
document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("sql-form").addEventListener("submit", runSQL);
  $("sql-text").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) runSQL(e); });
  showPage();
  start();
});
