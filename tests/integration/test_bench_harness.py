"""The benchmark harness itself, as CI runs it: a seconds-long smoke run of ``python -m bench`` that must
write its report and plots and find every ticket it was given done, none lost, none applied twice; and
the paced generator of its latency part."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from bench import citizen_tokens
from bench.harness import paced
from bench.harness.accounting import BULK, CITIZENS, Accounting, PromiseWindow, TicketRow
from tests.support.system import Served

ROOT = Path(__file__).resolve().parents[2]


# Bounded by the harness run's own timeout (600 s): it took 57 s on a slowed 2-core machine.
@pytest.mark.timeout(660)
def test_the_smoke_run_writes_a_report_whose_accounting_shows_zero_loss(tmp_path: Path) -> None:
    out = tmp_path / "report"
    run = subprocess.run(  # our own harness with this interpreter
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--no-progress",
            "--out",
            str(out),
            "--port-base",
            "18700",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    text = (out / "report.md").read_text(encoding="utf-8")
    row = re.search(
        r"^\| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \|", text, re.M
    )
    assert row is not None, text
    issued, done, failed, booked, lost, twice, no_effect = (int(g.replace(",", "")) for g in row.groups())
    assert issued > 0 and done + failed + booked == issued
    assert lost == twice == no_effect == 0
    for plot in ("ticketgate-outcomes.png", "ticketgate-latency.png", "ticketgate-queue-core.png"):
        assert (out / "plots" / plot).stat().st_size > 1000
    assert (out / "raw" / "locust-ticketgate_stats_history.csv").exists()


@pytest.fixture
async def tokens(
    http: aiohttp.ClientSession, idp: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The pool of citizens' tokens from the identity provider, handed over as the harness does."""
    pool = await citizen_tokens.mint_pool(http, idp.url)
    monkeypatch.setenv(citizen_tokens.TOKENS_FILE_ENV, str(citizen_tokens.write(tmp_path / "t.tsv", pool)))
    return pool


async def _paced_against(
    handler: Callable[[web.Request], Awaitable[web.Response]], port: int, *, connections: int, processes: int
) -> paced.PacedResult:
    """The paced generator at 100 a second for 2 seconds against a server of ``handler``."""
    app = web.Application()
    app.router.add_post("/v1/submissions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        return await paced.run(
            f"http://127.0.0.1:{port}", connections=connections, rate=100, seconds=2, processes=processes
        )
    finally:
        await runner.cleanup()


async def test_the_paced_generator_keeps_its_rate_and_times_every_answer(
    unused_tcp_port: int, tokens: dict[str, str]
) -> None:
    # Given a server that accepts every other submission and answers each after 20 ms
    seen = accepted = 0
    unauthorized: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        nonlocal seen, accepted
        seen += 1
        ok = seen % 2 == 1
        accepted += ok
        citizen = orjson.loads(await request.read())["citizen_id"]
        if request.headers.get("Authorization") != f"Bearer {tokens[citizen]}":
            unauthorized.append(citizen)
        await asyncio.sleep(0.02)
        return web.json_response({}, status=202 if ok else 503)

    # When the generator sends 100 a second over 20 connections for 2 seconds, in 2 processes
    result = await _paced_against(handler, unused_tcp_port, connections=20, processes=2)

    # Then it sent about 200 (a Poisson count), every one of them reached the server (the connections
    # were opened with GETs, which are no submissions), only the 202s count as accepted, and no answer
    # beat the 20 ms
    assert 140 <= result.sent <= 260, result
    assert seen == result.sent
    assert result.accepted == accepted, (result, accepted)
    assert 20 <= result.p50_ms <= result.p95_ms <= result.p99_ms
    # And every submission carried its own citizen's token
    assert unauthorized == []


async def test_the_paced_generator_reconnects_when_a_server_closes_after_each_answer(
    unused_tcp_port: int, tokens: dict[str, str]
) -> None:
    # Given a server that closes every connection after its answer, and a 202 with a body
    seen = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal seen
        seen += 1
        await request.read()
        response = web.json_response({"ticket_id": "x" * 40}, status=202)
        response.force_close()
        return response

    # When the generator sends 100 a second over 5 connections for 2 seconds, in 1 process
    result = await _paced_against(handler, unused_tcp_port, connections=5, processes=1)

    # Then every submission went out on a connection of its own and every one was accepted
    assert result.sent >= 140, result
    assert seen == result.sent
    assert result.accepted == result.sent


def test_promises_are_reported_by_when_their_tickets_were_issued() -> None:
    def row(source: str, created: float, promised: float | None, took: float) -> TicketRow:
        at = 1_800_000_000.0 + created
        return TicketRow(
            "payment", source, 1, at, None if promised is None else at + promised, at + took, "done", 1
        )

    acc = Accounting(
        tickets=[
            row(BULK, 0.0, 10.0, 25.0),  # missed: 2.5 times its promise
            row(BULK, 1.0, 10.0, 5.0),
            row(CITIZENS, 2.0, 10.0, 8.0),
            row(CITIZENS, 12.0, 20.0, 10.0),
            row(CITIZENS, 13.0, 20.0, 12.0),
            row(CITIZENS, 14.0, None, 1.0),  # booked for a window: no promise to judge
        ]
    )
    assert acc.promises_by_window(10.0) == [
        PromiseWindow(0.0, BULK, held=1, judged=2, use=1.5),
        PromiseWindow(0.0, CITIZENS, held=1, judged=1, use=0.8),
        PromiseWindow(10.0, CITIZENS, held=2, judged=2, use=0.55),
    ]
    assert acc.promise_use == 0.6
