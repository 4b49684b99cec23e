"""The attack benchmark's report: refusal costs, and who got the admitted capacity with authentication
on and off."""

from __future__ import annotations

import argparse
from typing import Any

from bench.attack.crowd import SCRIPT_MIX, STOLEN_TOKENS, Sender
from bench.attack.run import Phase, ScenarioResult


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def summary(r: ScenarioResult) -> dict[str, Any]:
    citizens = r.by_sender[Sender.CITIZEN]
    admitted = {s.value: t.outcomes["202"] for s, t in r.by_sender.items()}
    total = sum(admitted.values())
    sent = sum(t.sent for t in r.by_sender.values())
    return {
        "authentication": "on" if r.auth else "off",
        "seconds": r.seconds,
        "offered_per_second": r.offered_per_second,
        "capacity_per_second": r.capacity_per_second,
        "requests": sent,
        "admitted": admitted,
        "citizens_share_of_admitted": admitted[Sender.CITIZEN.value] / total if total else float("nan"),
        "citizens_sent": citizens.sent,
        "citizens_shed_share": citizens.outcomes["503 shedding"] / citizens.sent if citizens.sent else 0.0,
        "citizens_challenged": citizens.outcomes["challenged"],
        "citizens_accept_p50_ms": _pct(citizens.accept_ms, 0.5),
        "citizens_accept_p99_ms": _pct(citizens.accept_ms, 0.99),
        "citizens_solve_p50_ms": _pct(citizens.solve_ms, 0.5),
        "outcomes": {s.value: dict(t.outcomes) for s, t in r.by_sender.items()},
        "door_cpu_us_per_request": r.door_cpu_seconds / sent * 1e6 if sent else float("nan"),
        "door_cpu_us_per_attack_request": (
            r.attack_only_door_cpu / r.attack_only_requests * 1e6 if r.attack_only_requests else float("nan")
        ),
        "attack_only_requests": r.attack_only_requests,
    }


def markdown(
    phases: list[Phase], results: list[ScenarioResult], floor: tuple[int, float], args: argparse.Namespace
) -> str:
    lines = [
        "# Script attack: who gets the admitted capacity (issue 18)",
        "",
        f"`python -m bench.attack --seconds {args.seconds:g} --surge {args.surge:g} --script-share "
        f"{args.script_share:g} --core-slots {args.core_slots} --core-service-ms {args.core_service_ms:g}`",
        "",
        "One front door, one worker process, the status API, the core simulator and the development",
        "identity provider on this machine; the load generator in the same machine, one asyncio process,",
        "open loop (Poisson). Scripts' mix: "
        + ", ".join(f"{s.value.removeprefix('script: ')} {w:.0%}" for s, w in SCRIPT_MIX.items())
        + f" ({STOLEN_TOKENS} stolen tokens still valid); scripts rotate addresses over 20 /24 networks and",
        "never solve a challenge. Real citizens use their own token from their own address and solve a",
        "challenge when given one (Python's hashlib, as the page's JavaScript would).",
        "",
    ]
    if phases:
        accepted = phases[0].microseconds
        lines += [
            "## What a refusal costs the front door",
            "",
            "Closed loop, 16 connections, one kind of request per phase; the door's CPU (user + system) over",
            "the phase divided by its requests.",
            "",
            "| request | requests | answers | door CPU per request | next to an accepted one |",
            "| --- | ---: | --- | ---: | ---: |",
        ]
        for ph in phases:
            answers = ", ".join(f"{k} × {v:,}" for k, v in ph.outcomes.most_common())
            lines.append(
                f"| {ph.name} | {ph.requests:,} | {answers} | {ph.microseconds:,.0f} µs | "
                f"{ph.microseconds / accepted:.2f} |"
            )
        lines.append("")
    lines += [
        "## The surge",
        "",
        "| | authentication on | authentication off |",
        "| --- | ---: | ---: |",
    ]
    s = [summary(r) for r in results]

    def row(label: str, key: str, fmt: str) -> None:
        lines.append(f"| {label} | " + " | ".join(format(x[key], fmt) for x in s) + " |")

    row("offered, requests a second", "offered_per_second", ",.0f")
    row("core capacity, tickets a second", "capacity_per_second", ",.0f")
    row("requests sent", "requests", ",")
    lines.append(
        "| admitted (202): citizens / scripts | "
        + " | ".join(
            f"{x['admitted'][Sender.CITIZEN.value]:,} / "
            f"{sum(v for k, v in x['admitted'].items() if k != Sender.CITIZEN.value):,}"
            for x in s
        )
        + " |"
    )
    row("**citizens' share of admitted capacity**", "citizens_share_of_admitted", ".2%")
    row("citizens' requests", "citizens_sent", ",")
    row("citizens shed (503), share of their requests", "citizens_shed_share", ".1%")
    row("citizens challenged (solved and resent)", "citizens_challenged", ",")
    row("citizens' accept latency p50, ms", "citizens_accept_p50_ms", ",.0f")
    row("citizens' accept latency p99, ms", "citizens_accept_p99_ms", ",.0f")
    row("door CPU per request in the surge, µs", "door_cpu_us_per_request", ",.0f")
    row(
        "door CPU per attack request (scripts alone, same rate), µs", "door_cpu_us_per_attack_request", ",.0f"
    )
    floor_us = floor[1] / floor[0] * 1e6 if floor[0] else float("nan")
    lines += [
        f"| the same scripts' requests, same rate, against a bare aiohttp handler (the HTTP floor), µs "
        f"| {floor_us:,.0f} | |",
        "",
        "At a few hundred requests a second every request wakes the event loop on its own, so each costs",
        "several times what it costs in the closed-loop phases above, where many share a wake-up; the bare",
        "handler at the same rate shows how much of that is HTTP itself. The door's idle CPU (its",
        "controller, forecast and timers) is subtracted throughout.",
    ]
    lines += ["", "Answers by sender:", ""]
    for x in s:
        lines.append(f"- authentication {x['authentication']}:")
        for sender, outcomes in x["outcomes"].items():
            answers = ", ".join(f"{k} × {v:,}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1]))
            lines.append(f"  - {sender}: {answers}")
    return "\n".join(lines) + "\n"
