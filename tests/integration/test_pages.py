"""The operator dashboard and the citizen page, rendered by headless Chromium against the running system;
each test saves a screenshot (``.artifacts/screenshots/``, or ``$TICKETGATE_ARTIFACTS``). Also the
endpoints they stand on: ``/v1/admin/forecast``, ``/metrics`` on every component and ``/openapi.json``."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from redis.asyncio import Redis

from bench.browser import Page, chromium
from bench.purge import purge_namespace
from queue_config.names import Names
from queue_config.settings import Settings
from queue_config.web.openapi import document
from tests.support.system import System, drain, start_system, submission

TOKEN = "op-token-pages"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}
ARTIFACTS = Path(os.environ.get("TICKETGATE_ARTIFACTS", Path(__file__).resolve().parents[2] / ".artifacts"))


@pytest.fixture(scope="module")
async def shown(
    settings: Settings, http: aiohttp.ClientSession, redis: Redis
) -> AsyncIterator[tuple[System, list[str]]]:
    settings = settings.replace(namespace=settings.namespace + "-pages", operator_token=TOKEN)
    # Three hours of payment arrivals, so the forecaster has something to forecast from
    names = Names(settings.namespace)
    minute = int(time.time() // 60)
    for m in range(minute - 180, minute - 1):
        await redis.set(names.traffic_minute("payment", "arrivals", m), seeded(m), ex=3600 * 4)
    system = await start_system(settings, http, redis)
    tickets = []
    for n in range(30):
        code, doc, _ = await system.submit(submission(("payment", "transfer", "pension")[n % 3], 95_000 + n))
        assert code == 202
        tickets.append(doc["ticket_id"])
    await drain(system, tickets)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        plan = await redis.get(system.names.admission_plan)
        # A plan from a measured worker report: the worker's latency rounds close a second after its calls
        if (
            plan
            and orjson.loads(plan)["kinds"]["payment"]["service_seconds"] < 1.0
            and await redis.exists(system.names.outlook("payment"))
        ):
            break
        await asyncio.sleep(0.2)
    yield system, tickets
    await system.stop()
    await purge_namespace(system.settings, redis)


def seeded(minute: int) -> int:
    return 30 + minute % 7


async def render(url: str, shot: Path, size: str) -> str:
    """The DOM after the page's scripts ran (the dashboard's first load, or its error), and a screenshot."""
    width, height = (int(v) for v in size.split(","))
    async with chromium() as page:
        await page.open(url, width=width, height=height, mobile=width < 600)
        ready = (
            "!document.getElementById('kinds') || document.body.dataset.loaded === '1'"
            " || document.getElementById('error').textContent !== ''"
        )
        for _ in range(200):
            if await page.evaluate(ready):
                break
            await asyncio.sleep(0.05)
        await page.screenshot(shot)
        dom = str(await page.evaluate("document.documentElement.outerHTML"))
    assert shot.exists() and shot.stat().st_size > 5000
    return dom


async def test_the_operator_dashboard_renders_live_figures(shown: tuple[System, list[str]]) -> None:
    system, _ = shown
    assert system.frontdoor is not None
    dom = await render(
        f"{system.frontdoor.url}/dashboard#token={TOKEN}",
        ARTIFACTS / "screenshots" / "dashboard.png",
        "1400,900",
    )
    assert 'data-loaded="1"' in dom
    for kind in ("pension", "transfer", "payment"):
        assert f'id="kind-{kind}"' in dom
    assert "Queue depth" in dom and "ETA hit rate" in dom and "<path" in dom
    assert "100.0 %" in dom or "%" in dom


async def test_a_wrong_token_shows_an_error_not_figures(shown: tuple[System, list[str]]) -> None:
    system, _ = shown
    assert system.frontdoor is not None
    dom = await render(
        f"{system.frontdoor.url}/dashboard#token=wrong",
        ARTIFACTS / "screenshots" / "dashboard-refused.png",
        "800,400",
    )
    assert "refused" in dom and 'id="kind-payment"' not in dom


async def test_the_citizen_page_reads_on_a_phone_in_both_languages(shown: tuple[System, list[str]]) -> None:
    system, tickets = shown
    assert system.status is not None
    dom = await render(
        f"{system.status.url}/t/{tickets[0]}", ARTIFACTS / "screenshots" / "citizen-page.png", "390,844"
    )
    assert "已办结" in dom and "Done" in dom and tickets[0] in dom
    assert 'name="viewport"' in dom
    async with system.http.get(f"{system.status.url}/t/not-a-ticket") as response:
        assert response.status == 404 and "未找到" in await response.text()


async def test_the_forecast_endpoint_gives_each_kind_its_outlook(shown: tuple[System, list[str]]) -> None:
    system, _ = shown
    assert system.frontdoor is not None
    async with system.http.get(system.frontdoor.url + "/v1/admin/forecast") as response:
        assert response.status == 401
    async with system.http.get(system.frontdoor.url + "/v1/admin/forecast", headers=OPERATOR) as response:
        assert response.status == 200
        doc = await response.json()
    payment = doc["kinds"]["payment"]
    history = {
        int(dt.datetime.fromisoformat(a["at"]).timestamp()) // 60: a["count"]
        for a in payment["arrivals_per_minute"]
    }
    minute = int(time.time() // 60)
    assert all(history[m] == seeded(m) for m in range(minute - 55, minute - 5)), (minute, history)
    assert payment["traffic_last_minute"]["admitted"] >= 0
    rolling = payment["traffic_last_60_seconds"]
    assert set(rolling) == {"arrivals", "admitted", "shed", "limited"} and all(
        v >= 0 for v in rolling.values()
    )
    assert payment["capacity_per_second"] > 0 and payment["queue_depth"] is not None
    assert payment["capacity_measured"] is False  # a few tickets, never a queue to measure a drain by
    assert payment["worker_processes"] == 1 and payment["recommended_worker_processes"] >= 1
    # A kind no ticket of has come yet is still consumed by that process, and says so; its core latency
    # is unknown, not the plan's assumed second
    assert doc["kinds"]["reimbursement"]["worker_processes"] == 1
    assert doc["kinds"]["reimbursement"]["core_latency_seconds"] is None
    assert 0 < payment["core_latency_seconds"] < 1
    assert payment["eta_hit_rate"] is not None and 0 <= payment["eta_hit_rate"] <= 1
    assert len(payment["forecast_per_minute"]) == 60
    first = payment["forecast_per_minute"][0]
    assert first["low"] <= first["mean"] <= first["high"]
    # And which of the forecaster's candidates carry it, at every horizon it scores
    weights = payment["forecast_weights"]
    assert set(weights) == {"1", "5", "15", "60"}
    assert all(abs(sum(w.values()) - 1) < 0.01 for w in weights.values()), weights


async def test_every_component_serves_metrics(shown: tuple[System, list[str]]) -> None:
    system, _ = shown
    assert system.frontdoor is not None and system.status is not None and system.pool is not None
    urls = {
        "frontdoor": system.frontdoor.url,
        "status": system.status.url,
        "workers": f"http://127.0.0.1:{system.pool.metrics.port}",
    }
    gauges = ("ticketgate_queue_depth", "ticketgate_eta_hit_rate", "ticketgate_capacity_per_second")
    texts: dict[str, str] = {}
    # The door's system gauges are set on their own period: read until they have been, at most 15 s
    deadline = time.monotonic() + 15
    while not texts or (
        not all(f"{g}{{" in texts["frontdoor"] for g in gauges) and time.monotonic() < deadline
    ):
        if texts:
            await asyncio.sleep(0.5)
        for name, url in urls.items():
            async with system.http.get(url + "/metrics") as response:
                assert response.status == 200, name
                texts[name] = await response.text()
    front = texts["frontdoor"]
    assert 'ticketgate_traffic_total{kind="payment",metric="arrivals"}' in front
    assert 'ticketgate_http_request_seconds_count{route="/v1/submissions",status="202"}' in front
    for family in gauges:
        assert f"{family}{{" in front, family
    assert 'ticketgate_processing_seconds_count{kind="payment",outcome="done"}' in texts["workers"]
    assert "ticketgate_worker_in_flight" in texts["workers"]
    assert 'route="/v1/tickets/{ticket_id}"' in texts["status"]
    # And each reports its event loop's lag
    for name, text in texts.items():
        count = next(
            ln for ln in text.splitlines() if ln.startswith("ticketgate_event_loop_lag_seconds_count")
        )
        assert float(count.split()[-1]) > 0, name
    # No ticket ID or resident ID becomes a label
    assert not any(t in front + texts["status"] for t in shown[1])


@pytest.mark.parametrize("server", ["front", "status"])
async def test_openapi_names_every_route_its_app_serves(shown: tuple[System, list[str]], server: str) -> None:
    system, _ = shown
    served_by = system.frontdoor if server == "front" else system.status
    assert served_by is not None
    async with system.http.get(served_by.url + "/openapi.json") as response:
        assert response.status == 200
        served = await response.json()
    (named,) = served["servers"]
    assert served == document(server, named["url"]) and served["openapi"].startswith("3.1")  # type: ignore[arg-type]
    routes = set()
    for route in served_by.app.router.routes():
        if route.method in ("HEAD", "OPTIONS"):
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        routes.add((path, route.method.lower()))
    documented = {(path, method) for path, ops in served["paths"].items() for method in ops}
    assert routes == documented
    # Every templated path declares its parameters (five did not, which made the document invalid)
    for path, ops in served["paths"].items():
        for op in ops.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{([a-z_]+)\}", path)), (path, declared)


async def test_the_throttle_controls_preview_with_a_dry_run_before_they_apply(
    shown: tuple[System, list[str]],
) -> None:
    system, _ = shown
    assert system.frontdoor is not None

    async def throttle() -> dict[str, object]:
        assert system.frontdoor is not None
        async with system.http.get(system.frontdoor.url + "/v1/admin/throttle", headers=OPERATOR) as r:
            return dict(await r.json())

    async def until(page: Page, script: str) -> None:
        for _ in range(200):
            if await page.evaluate(script):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"never true: {script}")

    before = await throttle()
    async with chromium() as page:
        await page.open(
            f"{system.frontdoor.url}/dashboard#token={TOKEN}", width=1400, height=1000, mobile=False
        )
        await until(
            page, "document.body.dataset.loaded === '1' && !!document.querySelector('[data-rate=transfer]')"
        )
        # The operator sets manual mode with 3 transfers a second: Apply stays off until a preview
        await page.evaluate(
            "const m = document.getElementById('t-mode'); m.value = 'manual';"
            " m.dispatchEvent(new Event('input'));"
            "const r = document.querySelector('[data-rate=transfer]'); r.value = '3';"
            " r.dispatchEvent(new Event('input'));"
        )
        assert await page.evaluate("document.getElementById('t-apply').disabled") is True
        await page.evaluate("document.getElementById('t-preview').click()")
        await until(page, "document.getElementById('preview').innerText.includes('Predicted effect')")
        preview = str(await page.evaluate("document.getElementById('preview').innerText"))
        assert "transfer" in preview and "3.0 /s" in preview
        assert await throttle() == before  # a dry run applies nothing
        await page.screenshot(ARTIFACTS / "screenshots" / "dashboard-throttle-preview.png")
        assert await page.accessibility_violations() == []
        # Apply: the previewed change, and nothing else
        await page.evaluate("document.getElementById('t-apply').click()")
        await until(page, "document.getElementById('preview').innerText.includes('Applied')")
        after = await throttle()
        assert after["mode"] == "manual" and after["rates"]["transfer"] == 3  # type: ignore[index]
        await until(page, "document.getElementById('audit').innerText.includes('throttle')")
        await page.screenshot(ARTIFACTS / "screenshots" / "dashboard-throttle-applied.png")
    async with system.http.put(
        system.frontdoor.url + "/v1/admin/throttle",
        json={"mode": "auto", "rates": {"transfer": None}},
        headers=OPERATOR,
    ) as r:
        assert r.status == 200
