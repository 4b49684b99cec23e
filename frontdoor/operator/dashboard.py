"""``GET /dashboard``: the operator's live page. It is static; its script reads the operator API every
two seconds with the operator token, which it takes from the URL fragment (``#token=...``: never sent to
a server, never in an access log) or from a small form, and keeps for the browser tab.

Per kind: arrivals a minute against the forecast and its interval on a time axis, the last 60 seconds'
counts (rolling), queue depth, capacity and admission rate (each saying what it means), core latency, ETA
hit rate, worker processes, and the dead letters with a replay button. Below: the throttle controls (mode,
rates, maximum wait, maintenance and its end), which always preview the change with a dry run and show
its prediction before they apply it, and the audit log. Plain SVG and no external script: operators'
networks are closed.
"""

from __future__ import annotations

from aiohttp import web

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ticketgate · operator dashboard</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:0;background:#f4f6f8;color:#1c2430}
header{background:#1c2430;color:#fff;padding:.8rem 1.2rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:baseline}
header h1{font-size:1.2rem;margin:0}#mode{padding:.1rem .5rem;border-radius:.3rem;background:#1b5e20}
#mode.maintenance{background:#8a4b00}#mode.manual{background:#0d47a1}#at{color:#dfe4ea}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(23rem,1fr));gap:1rem;padding:1rem}
section{background:#fff;border-radius:.5rem;padding:.8rem 1rem;box-shadow:0 1px 3px #0002}
h2{margin:.2rem 0 .5rem;font-size:1.05rem}
dl{display:grid;grid-template-columns:1fr auto;gap:.2rem .8rem;margin:.5rem 0 0}
dt{color:#3b4552}dt small{display:block;color:#4f5966;font-size:.75rem}
dd{margin:0;text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
svg{width:100%;height:170px;background:#fafbfc;border:1px solid #d5dbe2}
.legend{font-size:.8rem;color:#3b4552}.legend b{display:inline-block;width:.8rem;height:.5rem;margin:0 .2rem}
#error{color:#b00020;padding:0 1rem}#error:empty{display:none}
.wide{grid-column:1/-1}
form.throttle{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:.6rem 1rem;align-items:end}
label{display:flex;flex-direction:column;font-size:.85rem;color:#3b4552;gap:.2rem}
input,select,button{font:inherit;padding:.3rem .4rem}
button{background:#0d47a1;color:#fff;border:0;border-radius:.3rem;cursor:pointer}
button:disabled{background:#8a96a3;cursor:not-allowed}button.secondary{background:#37474f}
#t-rates{display:contents}#preview{margin-top:.6rem;font-size:.9rem}table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid #e3e7ec}td.n{text-align:right}
</style></head><body>
<header><h1>ticketgate · operator dashboard</h1><span id="mode">…</span><span id="at"></span></header>
<p id="error" role="alert"></p>
<main><div class="grid" id="kinds"></div>
<div class="grid">
<section class="wide" aria-labelledby="throttle-h"><h2 id="throttle-h">Throttle</h2>
<form class="throttle" id="throttle">
<label>Mode<select id="t-mode"><option value="auto">auto: the controller admits what capacity can finish</option>
<option value="manual">manual: fixed admission rates</option><option value="maintenance">maintenance: accept and hold</option></select></label>
<span id="t-rates"></span>
<label>Maximum promised wait (s)<input id="t-wait" type="number" min="1" step="1"></label>
<label>Maintenance ends (local time)<input id="t-until" type="datetime-local"></label>
<button type="button" id="t-preview">Preview (dry run)</button>
<button type="button" id="t-apply" disabled>Apply the previewed change</button>
</form>
<div id="preview" aria-live="polite"></div>
</section>
<section class="wide" aria-labelledby="audit-h"><h2 id="audit-h">Audit log (latest first)</h2>
<table><thead><tr><th>When</th><th>Action</th><th>Operator token</th><th>Change</th></tr></thead>
<tbody id="audit"></tbody></table></section>
</div></main>
<script>
"use strict";
let previewed = null;  // the change the last dry run was for: only that one can be applied
function token() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) { sessionStorage.setItem("tg-token", decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
  return sessionStorage.getItem("tg-token");
}
function ask(reason) {
  document.getElementById("error").innerHTML = reason +
    ' <form id="login"><label>Operator token <input id="tok" type="password"></label> <button>Open</button></form>';
  document.getElementById("login").onsubmit = e => {
    e.preventDefault(); sessionStorage.setItem("tg-token", document.getElementById("tok").value); refresh();
  };
}
async function api(method, path, body) {
  const r = await fetch(path, {method, cache: "no-store",
    headers: {Authorization: "Bearer " + token(), "Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body)});
  const doc = await r.json().catch(() => ({}));
  if (r.status === 401) { sessionStorage.removeItem("tg-token"); throw {refused: doc.message || ""}; }
  if (!r.ok) throw new Error(doc.message || r.status);
  return doc;
}
function esc(v) { return String(v).replace(/[&<>"']/g, c => "&#" + c.charCodeAt(0) + ";"); }
function fmt(v, digits) { return v === null || v === undefined ? "–" : Number(v).toLocaleString(undefined, {maximumFractionDigits: digits, minimumFractionDigits: digits}); }
function hhmm(s) { return new Date(s * 1000).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"}); }
function chart(k) {
  const a = k.arrivals_per_minute, f = k.forecast_per_minute;
  if (!a.length && !f.length) return '<svg role="img" aria-label="no arrivals yet"></svg>';
  const t = p => Date.parse(p.at) / 1000;  // the API's times are ISO 8601
  const t0 = t(a[0] || f[0]), t1 = Math.max(t0 + 600, t(f[f.length - 1] || a[a.length - 1]));
  // The scale follows what happened and the forecast's mean; the interval is cut at the top edge, so an
  // uncertain forecast does not flatten the arrivals into the floor.
  const ymax = Math.max(1, ...a.map(p => p.count), ...f.map(p => p.mean)) * 1.25;
  const X0 = 34, W = 360, x = s => X0 + (s - t0) / (t1 - t0) * W, y = v => 150 - Math.min(v, ymax) / ymax * 138;
  const band = f.length ? "M" + f.map(p => x(t(p)) + "," + y(p.high)).join("L") + "L" +
    f.slice().reverse().map(p => x(t(p)) + "," + y(p.low)).join("L") + "Z" : "";
  const line = (pts, key) => pts.length ? "M" + pts.map(p => x(t(p)) + "," + y(p[key])).join("L") : "";
  const ticks = [];
  const step = (t1 - t0) > 5400 ? 1800 : 900;
  for (let s = Math.ceil(t0 / step) * step; s <= t1; s += step)
    ticks.push(`<line x1="${x(s)}" x2="${x(s)}" y1="150" y2="154" stroke="#3b4552"/><text x="${x(s)}" y="166" font-size="9" text-anchor="middle" fill="#3b4552">${hhmm(s)}</text>`);
  const now = Date.now() / 1000;
  return `<svg viewBox="0 0 400 170" role="img" aria-label="${esc(k.label ? k.label.en : "")}: arrivals a minute and the forecast">
    <path d="${band}" fill="#90caf966"/><path d="${line(f, "mean")}" stroke="#0d47a1" fill="none" stroke-dasharray="4 3"/>
    <path d="${line(a, "count")}" stroke="#1b5e20" fill="none" stroke-width="2"/>
    <line x1="${X0}" x2="${X0 + W}" y1="150" y2="150" stroke="#3b4552"/><line x1="${X0}" x2="${X0}" y1="12" y2="150" stroke="#3b4552"/>
    ${now > t0 && now < t1 ? `<line x1="${x(now)}" x2="${x(now)}" y1="12" y2="150" stroke="#8a4b00" stroke-dasharray="2 2"/>` : ""}
    <text x="${X0 - 3}" y="16" font-size="9" text-anchor="end" fill="#3b4552">${fmt(ymax, 0)}</text>
    <text x="${X0 - 3}" y="150" font-size="9" text-anchor="end" fill="#3b4552">0</text>
    <text x="${X0 + 4}" y="22" font-size="9" fill="#3b4552">submissions a minute</text>${ticks.join("")}</svg>`;
}
function row(label, hint, value) { return `<dt>${label}<small>${hint}</small></dt><dd>${value}</dd>`; }
function card(name, k, dead) {
  const r = k.traffic_last_60_seconds || {};
  const rate = k.admission_rate_per_second;
  const rows = [
    row("Arrivals, last 60 s", "valid submissions offered", fmt(r.arrivals, 0)),
    row("Admitted, last 60 s", "given a ticket (202)", fmt(r.admitted, 0)),
    row("Shed, last 60 s", "told to come back later (503)", fmt(r.shed, 0)),
    row("Limited, last 60 s", "a client over its own limit (429)", fmt(r.limited, 0)),
    row("Queue depth", "tickets waiting for a worker", fmt(k.queue_depth, 0)),
    row("Capacity", (k.capacity_measured ? "measured" : "assumed until measured") + ": tickets a second the workers finish", fmt(k.capacity_per_second, 1) + " /s"),
    row("Admission rate", "new tickets a second let in now: capacity plus the room left in the promised wait, so it can exceed capacity while the line is short", rate === null ? "no limit" : fmt(rate, 1) + " /s"),
    row("Core latency", "the core system's recent response time", k.core_latency_seconds === null ? "–" : fmt(k.core_latency_seconds * 1000, 0) + " ms"),
    row("ETA hit rate", "finished tickets done within their promised 90th-percentile time", k.eta_hit_rate === null ? "–" : fmt(k.eta_hit_rate * 100, 1) + " %"),
    row("Worker processes", "consuming this kind now; recommended for the next hour's forecast", (k.worker_processes === null ? "–" : fmt(k.worker_processes, 0)) + (k.recommended_worker_processes === null ? "" : " (recommended " + fmt(k.recommended_worker_processes, 0) + ")")),
    row("Dead letters", "failed tickets an operator can replay", dead === null ? "–" :
      fmt(dead, 0) + (dead > 0 ? ` <button type="button" class="secondary" data-replay="${esc(name)}">Replay all</button>` : "")),
  ];
  const title = k.label ? `${esc(k.label.en)} · <span lang="zh-CN">${esc(k.label.zh)}</span>` : esc(name);
  return `<section id="kind-${esc(name)}" aria-label="${esc(name)}"><h2>${title}</h2>${chart(k)}
    <div class="legend"><b style="background:#1b5e20"></b>arrivals <b style="background:#0d47a1"></b>forecast
    <b style="background:#90caf9"></b>90 % interval <b style="background:#8a4b00"></b>now</div>
    <dl>${rows.join("")}</dl></section>`;
}
let kindsSeen = [];
function throttleForm(th) {
  if (document.getElementById("throttle").dataset.filled) return;  // never overwrite what is being typed
  document.getElementById("throttle").dataset.filled = "1";
  document.getElementById("t-mode").value = th.mode;
  document.getElementById("t-wait").value = th.max_wait_seconds;
  document.getElementById("t-rates").innerHTML = Object.keys(th.rates).map(k =>
    `<label>${esc(k)} rate /s (manual; empty: automatic)<input data-rate="${esc(k)}" type="number" min="0" step="any" value="${th.rates[k] === null ? "" : th.rates[k]}"></label>`).join("");
  if (th.maintenance_until) {
    const d = new Date(th.maintenance_until);
    document.getElementById("t-until").value = new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  }
  document.querySelectorAll("#throttle input,#throttle select").forEach(el => el.oninput = () => {
    previewed = null; document.getElementById("t-apply").disabled = true; });
}
function change() {
  const rates = {};
  document.querySelectorAll("[data-rate]").forEach(el => rates[el.dataset.rate] = el.value === "" ? null : Number(el.value));
  const until = document.getElementById("t-until").value;
  return {mode: document.getElementById("t-mode").value, rates,
    max_wait_seconds: Number(document.getElementById("t-wait").value),
    maintenance_until: until ? new Date(until).toISOString() : null};
}
async function preview() {
  const body = change();
  try {
    const dry = await api("PUT", "/v1/admin/throttle?dry_run=true", body);
    previewed = JSON.stringify(body);
    const rows = Object.entries(dry.predicted).map(([k, p]) => p === null ? `<tr><td>${esc(k)}</td><td colspan="4">no plan yet</td></tr>` :
      `<tr><td>${esc(k)}</td><td class="n">${fmt(p.current_rate, 1)} → ${fmt(p.admission_rate, 1)} /s</td><td class="n">${fmt(p.demand, 1)} /s</td><td class="n">${fmt(p.shed_share * 100, 0)} %</td><td class="n">${p.eta_seconds_in_a_minute === null ? "–" : fmt(p.eta_seconds_in_a_minute, 0) + " s"}</td></tr>`);
    document.getElementById("preview").innerHTML = `<p><strong>Predicted effect</strong> (nothing applied yet):</p>
      <table><thead><tr><th>Kind</th><th>Admission rate now → after</th><th>Demand</th><th>Share shed</th><th>Wait of a ticket admitted in a minute</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
    document.getElementById("t-apply").disabled = false;
  } catch (e) { document.getElementById("preview").textContent = "The change was refused: " + (e.message || e.refused); }
}
async function apply() {
  const body = change();
  if (JSON.stringify(body) !== previewed) { document.getElementById("t-apply").disabled = true; return; }
  try {
    await api("PUT", "/v1/admin/throttle", body);
    document.getElementById("preview").innerHTML = "<p><strong>Applied.</strong> Every front door follows within a second; the audit log below records it.</p>";
    document.getElementById("t-apply").disabled = true; previewed = null;
    delete document.getElementById("throttle").dataset.filled;
    refresh();
  } catch (e) { document.getElementById("preview").textContent = "The change was refused: " + (e.message || e.refused); }
}
async function replay(kind) {
  if (!confirm("Replay every dead letter of " + kind + "?")) return;
  try { const r = await api("POST", "/v1/admin/dead-letters/replay", {kind});
    document.getElementById("error").textContent = "Replayed " + kind + ": " + JSON.stringify(r); refresh();
  } catch (e) { document.getElementById("error").textContent = "Replay refused: " + (e.message || e.refused); }
}
async function refresh() {
  if (!token()) { if (!document.getElementById("login")) ask("An operator token is needed."); return; }
  try {
    const doc = await api("GET", "/v1/admin/forecast");
    const names = Object.keys(doc.kinds);
    const dead = await Promise.all(names.map(n => api("GET", "/v1/admin/dead-letters?limit=1&kind=" + n).then(d => d.total).catch(() => null)));
    document.getElementById("mode").textContent = doc.mode;
    document.getElementById("mode").className = doc.mode;
    document.getElementById("at").textContent = doc.at ? "plan of " + new Date(doc.at).toLocaleTimeString() : "";
    // The kinds are the server's (``queue_config.kinds``), in its order: none is named here.
    document.getElementById("kinds").innerHTML = names.map((n, i) => card(n, doc.kinds[n], dead[i])).join("");
    document.querySelectorAll("[data-replay]").forEach(b => b.onclick = () => replay(b.dataset.replay));
    throttleForm(await api("GET", "/v1/admin/throttle"));
    const audit = await api("GET", "/v1/admin/audit");
    document.getElementById("audit").innerHTML = audit.entries.slice(0, 10).map(e =>
      `<tr><td>${esc(new Date(e.at).toLocaleString())}</td><td>${esc(e.action)}</td><td>${esc(e.token)}</td><td><code>${esc(JSON.stringify(e.after))}</code></td></tr>`).join("")
      || '<tr><td colspan="4">No changes yet.</td></tr>';
    if (!document.getElementById("login")) document.getElementById("error").textContent = "";
    document.body.dataset.loaded = "1";
  } catch (e) {
    if (e.refused !== undefined) { document.getElementById("kinds").innerHTML = ""; ask("The operator token was refused. " + e.refused); }
    else document.getElementById("error").textContent = "Cannot load: " + e.message;
  }
}
document.getElementById("t-preview").onclick = preview;
document.getElementById("t-apply").onclick = apply;
refresh(); setInterval(refresh, 2000);
</script></body></html>"""


async def dashboard(_: web.Request) -> web.Response:
    return web.Response(
        text=PAGE,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
