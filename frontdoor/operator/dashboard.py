"""``GET /dashboard``: the operator's live page. It is static; its script reads ``/v1/admin/forecast``
every two seconds with the operator token, which it takes from the URL fragment (``#token=...``: never
sent to a server, never in an access log) or from a small form, and keeps for the browser tab.

Per kind it draws arrivals a minute against the forecast and its interval, and shows admitted and shed
in the last minute, queue depth, capacity, admission rate, core latency, ETA hit rate and the
recommended number of worker processes. Plain SVG, no external scripts: operators' networks are closed.
"""

from __future__ import annotations

from aiohttp import web

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ticketgate · operator dashboard</title>
<style>
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:0;background:#f4f6f8;color:#1c2430}
header{background:#1c2430;color:#fff;padding:.8rem 1.2rem;display:flex;gap:1rem;align-items:baseline}
header h1{font-size:1.2rem;margin:0}#mode{padding:.1rem .5rem;border-radius:.3rem;background:#2e7d32}
#mode.maintenance{background:#b26a00}#mode.manual{background:#1565c0}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1rem;padding:1rem}
section{background:#fff;border-radius:.5rem;padding:.8rem 1rem;box-shadow:0 1px 3px #0002}
h2{margin:.2rem 0 .5rem;font-size:1.05rem;text-transform:capitalize}
dl{display:grid;grid-template-columns:auto auto;gap:.15rem .8rem;margin:.5rem 0 0}
dt{color:#5a6472}dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}
svg{width:100%;height:150px;background:#fafbfc;border:1px solid #e3e7ec}
.legend{font-size:.8rem;color:#5a6472}.legend b{display:inline-block;width:.8rem;height:.5rem;margin:0 .2rem}
#error{color:#b00020;padding:0 1rem}
</style></head><body>
<header><h1>ticketgate · operator dashboard</h1><span id="mode">…</span><span id="at"></span></header>
<p id="error"></p>
<main id="kinds"></main>
<script>
"use strict";
function token() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) { sessionStorage.setItem("tg-token", decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
  return sessionStorage.getItem("tg-token");
}
function ask(reason) {
  document.getElementById("error").innerHTML = reason +
    ' <form id="login"><input id="tok" type="password" placeholder="operator token"> <button>Open</button></form>';
  document.getElementById("login").onsubmit = e => {
    e.preventDefault(); sessionStorage.setItem("tg-token", document.getElementById("tok").value); refresh();
  };
}
function fmt(v, digits) { return v === null || v === undefined ? "–" : Number(v).toFixed(digits); }
function chart(k) {
  const a = k.arrivals_per_minute, f = k.forecast_per_minute;
  if (!a.length && !f.length) return "<svg></svg>";
  const t = p => Date.parse(p.at) / 1000;  // the API's times are ISO 8601
  const t0 = t(a[0] || f[0]), t1 = t(f[f.length - 1] || a[a.length - 1]);
  const ymax = Math.max(1, ...a.map(p => p.count), ...f.map(p => p.high));
  const x = s => 4 + (s - t0) / Math.max(60, t1 - t0) * 392, y = v => 146 - v / ymax * 136;
  const band = f.length ? "M" + f.map(p => x(t(p)) + "," + y(p.high)).join("L") + "L" +
    f.slice().reverse().map(p => x(t(p)) + "," + y(p.low)).join("L") + "Z" : "";
  const line = (pts, key) => pts.length ? "M" + pts.map(p => x(t(p)) + "," + y(p[key])).join("L") : "";
  return `<svg viewBox="0 0 400 150" preserveAspectRatio="none" role="img" aria-label="arrivals and forecast">
    <path d="${band}" fill="#90caf955"/><path d="${line(f, "mean")}" stroke="#1565c0" fill="none" stroke-dasharray="4 3"/>
    <path d="${line(a, "count")}" stroke="#2e7d32" fill="none" stroke-width="2"/>
    <text x="6" y="12" font-size="10" fill="#5a6472">${fmt(ymax, 0)}/min</text></svg>`;
}
function card(name, k) {
  const rows = [
    ["Arrivals /s", fmt(k.demand_per_second, 2)],
    ["Admitted last min", fmt(k.traffic_last_minute.admitted, 0)],
    ["Shed last min (503)", fmt(k.traffic_last_minute.shed, 0)],
    ["Limited last min (429)", fmt(k.traffic_last_minute.limited, 0)],
    ["Queue depth", fmt(k.queue_depth, 0)],
    ["Capacity /s", fmt(k.capacity_per_second, 2)],
    ["Admission rate /s", k.admission_rate_per_second === null ? "no limit" : fmt(k.admission_rate_per_second, 2)],
    ["Core latency", k.core_latency_seconds === null ? "–" : fmt(k.core_latency_seconds * 1000, 0) + " ms"],
    ["ETA hit rate", k.eta_hit_rate === null ? "–" : fmt(k.eta_hit_rate * 100, 1) + " %"],
    ["Worker processes", fmt(k.worker_processes, 0) + " (recommended " + fmt(k.recommended_worker_processes, 0) + ")"],
  ];
  const title = k.label ? `${k.label.en} · <span lang="zh">${k.label.zh}</span>` : name;
  return `<section id="kind-${name}"><h2>${title}</h2>${chart(k)}
    <div class="legend"><b style="background:#2e7d32"></b>arrivals <b style="background:#1565c0"></b>forecast
    <b style="background:#90caf9"></b>90 % interval</div>
    <dl>${rows.map(r => `<dt>${r[0]}</dt><dd>${r[1]}</dd>`).join("")}</dl></section>`;
}
async function refresh() {
  const t = token();
  if (!t) { if (!document.getElementById("login")) ask("An operator token is needed."); return; }
  try {
    const r = await fetch("/v1/admin/forecast", {headers: {Authorization: "Bearer " + t}, cache: "no-store"});
    if (r.status === 401) {
      sessionStorage.removeItem("tg-token"); document.getElementById("kinds").innerHTML = "";
      const why = await r.json().catch(() => ({}));
      ask("The operator token was refused. " + (why.message || "")); return;
    }
    const doc = await r.json();
    document.getElementById("mode").textContent = doc.mode;
    document.getElementById("mode").className = doc.mode;
    document.getElementById("at").textContent = doc.at ? new Date(doc.at).toLocaleTimeString() : "";
    // The kinds are the server's (``queue_config.kinds``), in its order: none is named here.
    document.getElementById("kinds").innerHTML = Object.keys(doc.kinds).map(n => card(n, doc.kinds[n])).join("");
    document.getElementById("error").textContent = "";
    document.body.dataset.loaded = "1";
  } catch (e) { document.getElementById("error").textContent = "Cannot load: " + e.message; }
}
refresh(); setInterval(refresh, 2000);
</script></body></html>"""


async def dashboard(_: web.Request) -> web.Response:
    return web.Response(
        text=PAGE,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
