"""``python -m bench.status_reads``: the read side at national scale, side by side with a bare handler.

At the seed's peak status checks outnumber submissions, and clients that wait hold a ``?wait=`` request
open. On one status API process (the tickets made directly in Redis through the store layer, so nothing
else runs) this measures:

1. **reads a second** with wrk (``bench/wrk/ticket_reads.lua``, ``--connections`` connections,
   ``--seconds`` each): of queued tickets (a Redis read each), of done tickets (the status API's cache of
   done tickets), and of a bare aiohttp handler answering a fixed ticket document
   (``bench.bare_aiohttp``), one after the other;
2. **``--waiters`` concurrent long-polls** (``?wait=30``) of distinct queued tickets: the status API's
   memory per waiter (RSS with every waiter held, less before), then the time from each ticket's finish to
   its waiter's answer (p50 / p99 / max), half of them finished with the event subscription up and half
   right after the status API's subscription is killed (``CLIENT KILL TYPE pubsub``): those wake-ups are
   lost, and their waiters must still answer ``done`` by re-reading, never time out on the old status.

Writes a Markdown report to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp
import psutil

from bench.chaos.supervisor import ROOT, Supervised, Supervisor
from bench.harness import wrk
from bench.harness.targets import Layout
from bench.ports import free_port_block
from bench.purge import purge_namespace
from bench.readiness import wait_http
from queue_config.key_shards import shard_of_scope
from queue_config.settings import Settings
from queue_config.stores.redis.client import connect
from queue_config.stores.redis.tickets import RedisTicketStore
from queue_config.stores.tickets import NewTicket
from queue_config.ticket_ids import TicketIds

SECRET = "bench-status-reads-secret"  # noqa: S105 - a thrown-away namespace's own
WAIT_SECONDS = 30


async def _make_tickets(store: RedisTicketStore, ids: TicketIds, count: int, tag: str) -> list[str]:
    made: list[str] = []

    async def one(n: int) -> None:
        scope = ids.scope(f"citizen:{tag}-{n}")
        ticket = NewTicket(
            ids.mint(shard_of_scope(scope)), "payment", scope, uuid.uuid4().hex, None, "110***", place=n + 1
        )
        await store.reserve(ticket)
        await store.commit(ticket.ticket_id, "payment", time.time() + 600, promise_model=60.0)
        made.append(ticket.ticket_id)

    for start in range(0, count, 500):
        await asyncio.gather(*(one(n) for n in range(start, min(count, start + 500))))
    return made


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _reads(url: str, ticket_ids: list[str], options: argparse.Namespace) -> wrk.WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as file:
        file.write("\n".join(ticket_ids) + "\n")
    try:
        return await wrk.run(
            url,
            options.connections,
            options.seconds,
            script="ticket_reads.lua",
            path="",
            env={"BENCH_TICKETS_FILE": file.name, "PATH": "/usr/bin:/bin:/usr/local/bin"},
        )
    finally:
        Path(file.name).unlink(missing_ok=True)  # noqa: ASYNC240 - one small file


async def _long_polls(
    status_url: str,
    status_pid: int,
    store: RedisTicketStore,
    tickets: list[str],
    lines: list[str],
) -> None:
    """Every ticket waited on at once; then half finished with the subscription up, half after it was
    killed."""
    process = psutil.Process(status_pid)
    rss_before = process.memory_info().rss
    answered: dict[str, tuple[float, str]] = {}
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=WAIT_SECONDS + 30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def wait(ticket_id: str) -> None:
            try:
                async with http.get(f"{status_url}/v1/tickets/{ticket_id}?wait={WAIT_SECONDS}") as response:
                    doc = await response.json()
                    answered[ticket_id] = (
                        time.monotonic(),
                        f"{response.status} {doc.get('status') or doc.get('error')}",
                    )
            except (aiohttp.ClientError, TimeoutError) as exc:
                failures.append(repr(exc))

        tasks = [asyncio.create_task(wait(t)) for t in tickets]
        # Held: every waiter's connection open at the status API
        deadline = time.monotonic() + 60
        # Another process's sockets: nothing in this one to wait on.
        while len(process.net_connections("tcp")) < len(tickets) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)
        held = len(process.net_connections("tcp"))
        rss_held = process.memory_info().rss
        finished: dict[str, float] = {}
        half = len(tickets) // 2

        async def finish(batch: list[str]) -> None:
            for start in range(0, len(batch), 200):
                chunk = batch[start : start + 200]
                now = time.monotonic()
                await asyncio.gather(
                    *(store.finish(t, "payment", result={"receipt_id": t[:8]}) for t in chunk)
                )
                for t in chunk:
                    finished[t] = now
                await asyncio.sleep(0.05)

        await finish(tickets[:half])
        await asyncio.sleep(1.0)
        # The subscription lost: what is published until the status API has resubscribed reaches nobody
        await store.redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")  # type: ignore[no-untyped-call]
        killed_at = time.monotonic()
        await finish(tickets[half:])
        await asyncio.gather(*tasks)
    latency = {t: answered[t][0] - finished[t] for t in tickets if t in answered and t in finished}
    before_kill = [1000 * latency[t] for t in tickets[:half] if t in latency]
    after_kill = [1000 * latency[t] for t in tickets[half:] if t in latency]
    not_done = Counter(answered[t][1] for t in tickets if t in answered and answered[t][1] != "200 done")
    per_waiter = (rss_held - rss_before) / max(1, len(tickets))
    lines += [
        f"## {len(tickets):,} concurrent `?wait={WAIT_SECONDS}` long-polls on one status API process",
        "",
        f"- connections held at the status API: {held:,}; its RSS {rss_before / 2**20:.1f} MB before, "
        f"{rss_held / 2**20:.1f} MB with every waiter held: **{per_waiter / 1024:.1f} KB per waiter**",
        f"- answered 200 `done`: {len(tickets) - sum(not_done.values()) - len(failures):,} "
        f"of {len(tickets):,}"
        + (f" (else: {', '.join(f'{k} × {v}' for k, v in not_done.items())})" if not_done else "")
        + "; "
        f"client errors: {len(failures)}" + (f" (first: {failures[0]})" if failures else ""),
        "",
        "| finished | waiters | change → answer p50 (ms) | p99 (ms) | max (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| subscription up | {len(before_kill):,} | {_pct(before_kill, 0.5):.0f} "
        f"| {_pct(before_kill, 0.99):.0f} | {max(before_kill, default=float('nan')):.0f} |",
        f"| right after the subscription was killed ({time.monotonic() - killed_at:.0f} s before the end) "
        f"| {len(after_kill):,} | {_pct(after_kill, 0.5):.0f} | {_pct(after_kill, 0.99):.0f} "
        f"| {max(after_kill, default=float('nan')):.0f} |",
        "",
    ]


async def _bare_holders(bare_url: str, bare_pid: int, count: int, lines: list[str]) -> None:
    """What ``count`` held requests cost a bare aiohttp process: the floor under a waiter's memory."""
    process = psutil.Process(bare_pid)
    before = process.memory_info().rss
    hold = 20
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def held() -> None:
            async with http.get(f"{bare_url}/v1/tickets/bare?wait={hold}") as response:
                await response.read()

        tasks = [asyncio.create_task(held()) for _ in range(count)]
        deadline = time.monotonic() + 60
        # Another process's sockets: nothing in this one to wait on.
        while len(process.net_connections("tcp")) < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)
        during = process.memory_info().rss
        await asyncio.gather(*tasks, return_exceptions=True)
    lines += [
        f"- the same number of requests held by the bare aiohttp handler (`?wait={hold}`, nothing else): "
        f"RSS {before / 2**20:.1f} MB before, {during / 2**20:.1f} MB held: "
        f"**{(during - before) / count / 1024:.1f} KB per held request**",
        "",
    ]


async def run(options: argparse.Namespace) -> str:
    layout = Layout(
        namespace=f"tgreads-{uuid.uuid4().hex[:8]}",
        port_base=free_port_block(Layout.PORTS),
        extra_env={"TICKET_SECRET": SECRET},
    )
    env = layout.env()
    logs = options.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    status = Supervised("status API", "status_api", env, logs)
    bare = Supervised("bare aiohttp", "bench.bare_aiohttp", env, logs)  # on the front door's port
    supervisor = Supervisor([Supervised("identity provider", "bench.idp", env, logs), status, bare])
    settings = Settings.from_env(env)
    redis = connect(settings)
    store = RedisTicketStore.from_settings(redis, settings)
    ids = TicketIds(SECRET.encode())
    lines = [
        "# The read side: status reads and long-polls on one status API process",
        "",
        "`python -m bench.status_reads " + " ".join(sys.argv[1:]) + "`",
        "",
    ]
    try:
        supervisor.start()
        async with aiohttp.ClientSession() as http:
            await wait_http(http, layout.status_url + "/readyz", timeout=60)
            await wait_http(http, layout.front_url + "/v1/tickets/x", timeout=60)
        queued = await _make_tickets(store, ids, options.tickets, "read")
        done = queued[: options.tickets // 10]
        for ticket_id in done:
            await store.finish(ticket_id, "payment", result={"receipt_id": ticket_id[:8]})
        open_ones = queued[len(done) :]
        lines += [
            f"## Reads a second (wrk, {options.connections} connections, {options.seconds:.0f} s each)",
            "",
            "| what is read | reads/s | p50 (ms) | p99 (ms) | not 200 |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for what, url, read_ids in (
            (f"queued tickets ({len(open_ones):,}, a Redis read each)", layout.status_url, open_ones),
            (f"done tickets ({len(done):,}, from the cache of done tickets)", layout.status_url, done),
            ("bare aiohttp handler, a fixed document", layout.front_url, ["bare"]),
        ):
            result = await _reads(url, read_ids, options)
            lines.append(
                f"| {what} | {result.requests / result.seconds:,.0f} | {result.p50_ms:.1f} | "
                f"{result.p99_ms:.1f} | {result.refused} |"
            )
        lines.append("")
        waiting = await _make_tickets(store, ids, options.waiters, "wait")
        assert status.proc is not None
        await _long_polls(layout.status_url, status.proc.pid, store, waiting, lines)
        assert bare.proc is not None
        await _bare_holders(layout.front_url, bare.proc.pid, options.waiters, lines)
    finally:
        await supervisor.stop()
        await purge_namespace(settings.replace(namespace=layout.namespace), redis)
        await redis.aclose()
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.status_reads",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--tickets", type=int, default=10_000, help="tickets read by wrk (a tenth done)")
    parser.add_argument("--waiters", type=int, default=10_000, help="concurrent long-polls")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of each wrk run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "reports" / "status-reads")
    options = parser.parse_args()
    text = asyncio.run(run(options))
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
