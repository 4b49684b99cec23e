"""``python -m bench.attack.solver_speed``: how long the portal page's JavaScript takes to solve a
challenge, in headless Chromium as is and with its CPU slowed (DevTools' CPU throttling; Lighthouse
emulates a mid-range phone with a 4x slowdown). Prints a Markdown table.

Chromium is driven over the DevTools protocol (``bench.browser``): the page evaluates
``frontdoor/defense/solver.js`` on challenges the door's own ``ProofOfWork`` issued.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from pathlib import Path

import orjson

from bench.browser import chromium
from frontdoor.defense.proof_of_work import ProofOfWork

SOLVER = Path(__file__).resolve().parents[2] / "frontdoor" / "defense" / "solver.js"


async def measure(difficulty: int, challenges: int, slowdowns: list[float]) -> dict[float, list[float]]:
    issued = [
        ProofOfWork(b"solver-speed" * 3).issue(f"198.51.100.0/24|{n}", difficulty) for n in range(challenges)
    ]
    script = SOLVER.read_text() + (
        "\n(() => { const out = [];"
        f" for (const c of {orjson.dumps(issued).decode()}) {{"
        f"   const t = performance.now(); ticketgateProof.solve(c, {difficulty});"
        "   out.push(performance.now() - t); }"
        " return out; })()"
    )
    results: dict[float, list[float]] = {}
    async with chromium() as page:
        for rate in slowdowns:
            await page.call("Emulation.setCPUThrottlingRate", rate=rate)
            results[rate] = list(await page.evaluate(script))
    return results


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.attack.solver_speed", description=__doc__)
    p.add_argument("--difficulty", type=int, default=16, help="zero bits (default 16, POW_DIFFICULTY_BITS)")
    p.add_argument("--challenges", type=int, default=30, help="challenges solved per setting (30)")
    args = p.parse_args()
    results = asyncio.run(measure(args.difficulty, args.challenges, [1.0, 4.0]))
    print(f"| Chromium, {args.difficulty} zero bits | median | mean | p90 | slowest |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for rate, times in results.items():
        ordered = sorted(times)
        p90 = ordered[int(len(ordered) * 0.9)]
        label = "as is" if rate == 1 else f"CPU slowed {rate:g}x (mobile emulation)"
        print(
            f"| {label} | {statistics.median(times):,.0f} ms | {statistics.mean(times):,.0f} ms | "
            f"{p90:,.0f} ms | {ordered[-1]:,.0f} ms |"
        )


if __name__ == "__main__":
    main()
