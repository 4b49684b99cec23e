"""``python -m bench.attack.solver_speed``: how long the portal page's JavaScript takes to solve a
challenge, in headless Chromium as is and with its CPU slowed (DevTools' CPU throttling; Lighthouse
emulates a mid-range phone with a 4x slowdown). Prints a Markdown table.

Chromium is driven over the DevTools protocol with aiohttp's websocket client: the page evaluates
``frontdoor/defense/solver.js`` on challenges the door's own ``ProofOfWork`` issued.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.private_rabbit import free_port
from frontdoor.defense.proof_of_work import ProofOfWork

SOLVER = Path(__file__).resolve().parents[2] / "frontdoor" / "defense" / "solver.js"


async def _devtools(port: int, http: aiohttp.ClientSession) -> str:
    for _ in range(100):
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                pages = [t for t in await response.json() if t.get("type") == "page"]
                if pages:
                    return str(pages[0]["webSocketDebuggerUrl"])
        await asyncio.sleep(0.1)
    raise RuntimeError("Chromium's DevTools did not answer")


async def measure(difficulty: int, challenges: int, slowdowns: list[float]) -> dict[float, list[float]]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is missing: scripts/setup.sh installs it")
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
    port = free_port()
    ids = itertools.count(1)
    results: dict[float, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="tg-chromium-") as profile:
        proc = await asyncio.create_subprocess_exec(
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            async with aiohttp.ClientSession() as http:
                url = await _devtools(port, http)
                async with http.ws_connect(url, max_msg_size=0) as ws:

                    async def call(method: str, **params: Any) -> dict[str, Any]:
                        n = next(ids)
                        await ws.send_str(
                            orjson.dumps({"id": n, "method": method, "params": params}).decode()
                        )
                        while True:
                            reply = orjson.loads((await ws.receive()).data)
                            if reply.get("id") == n:
                                return dict(reply)

                    for rate in slowdowns:
                        await call("Emulation.setCPUThrottlingRate", rate=rate)
                        reply = await call("Runtime.evaluate", expression=script, returnByValue=True)
                        results[rate] = list(reply["result"]["result"]["value"])
        finally:
            proc.kill()
            await proc.wait()
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
