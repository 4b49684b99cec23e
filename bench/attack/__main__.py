"""``python -m bench.attack``: scripts at 82 % of a surge of ten times the core's capacity, against
ticketgate with citizen authentication on, then the same run with it off (issue 18), plus what each kind
of refusal costs the front door next to an accepted submission. Writes ``report.md`` and ``results.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path

import aiohttp

from bench.attack import report
from bench.attack.run import Phase, ScenarioResult, http_floor, refusal_costs, scenario
from bench.harness import targets
from bench.ports import free_port_block

ROOT = Path(__file__).resolve().parents[2]


def _layout(args: argparse.Namespace, auth: bool) -> targets.Layout:
    return targets.Layout(
        namespace=f"tgattack-{uuid.uuid4().hex[:8]}",
        port_base=free_port_block(targets.Layout.PORTS),
        core_slots=args.core_slots,
        core_service_ms=args.core_service_ms,
        extra_env={
            "AUTH_REQUIRED": "true" if auth else "false",
            # The generator is the scripts' proxy service: the door believes its X-Forwarded-For.
            "TRUSTED_PROXIES": "127.0.0.1",
            "PER_IP_PER_MINUTE": "6000",
        },
    )


async def _run(args: argparse.Namespace) -> tuple[list[Phase], list[ScenarioResult], tuple[int, float]]:
    capacity = args.core_slots * 1000 / args.core_service_ms
    phases: list[Phase] = []
    results = []
    connector = aiohttp.TCPConnector(limit=2000)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        for auth in (True, False):
            running = await targets.start(targets.TICKETGATE, _layout(args, auth), http)
            try:
                if auth and args.cost_requests:
                    print("refusal costs: closed-loop phases", flush=True)
                    phases = await refusal_costs(running, http, args.cost_requests)
                print(f"scenario, authentication {'on' if auth else 'off'}: {args.seconds:.0f} s", flush=True)
                results.append(
                    await scenario(
                        running,
                        http,
                        auth=auth,
                        seconds=args.seconds,
                        surge=args.surge,
                        capacity=capacity,
                        script_share=args.script_share,
                    )
                )
            finally:
                await running.stop()
        # The HTTP floor: the scripts' requests at their rate against a handler that does nothing
        bare = await targets.start(targets.BARE_HTTP, _layout(args, True), http)
        try:
            print("the same scripts against a bare aiohttp handler: 20 s", flush=True)
            floor = await http_floor(bare, http, args.surge * capacity * args.script_share, 20.0)
        finally:
            await bare.stop()
    return phases, results, floor


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.attack", description=__doc__)
    p.add_argument("--seconds", type=float, default=60.0, help="length of each scenario run (default 60)")
    p.add_argument("--surge", type=float, default=10.0, help="offered load, times the core's capacity (10)")
    p.add_argument("--script-share", type=float, default=0.82, help="share of requests from scripts (0.82)")
    p.add_argument("--core-slots", type=int, default=32, help="the simulated core's slots (32)")
    p.add_argument("--core-service-ms", type=float, default=800.0, help="its service time (800 ms)")
    p.add_argument(
        "--cost-requests", type=int, default=10_000, help="requests per refusal-cost phase (10000; 0: skip)"
    )
    p.add_argument(
        "--out", type=Path, default=None, help="report folder (default bench/reports/<date>-attack)"
    )
    args = p.parse_args()
    out = args.out or ROOT / "bench" / "reports" / f"{dt.date.today().isoformat()}-attack"
    out.mkdir(parents=True, exist_ok=True)
    phases, results, floor = asyncio.run(_run(args))
    text = report.markdown(phases, results, floor, args)
    (out / "report.md").write_text(text, encoding="utf-8")
    (out / "results.json").write_text(
        json.dumps(
            {
                "phases": [
                    {
                        "name": ph.name,
                        "requests": ph.requests,
                        "door_cpu_seconds": ph.door_cpu_seconds,
                        "outcomes": dict(ph.outcomes),
                    }
                    for ph in phases
                ],
                "scenarios": [report.summary(r) for r in results],
                "http_floor": {"requests": floor[0], "cpu_seconds": floor[1]},
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
