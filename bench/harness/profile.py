"""Where a server process spends its time under load: py-spy attached for a while, reduced to a table of
the functions with the largest share of samples (inclusive: a function counts with what it calls)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import Counter
from pathlib import Path

# Frames every sample passes through (the event loop, the entry points): they say nothing.
_NOISE = (
    "_run_once",
    "run_forever",
    "run_until_complete",
    "Runner.run",
    "Handle._run",
    "<module>",
    "_run_code",
    "_run_module_as_main",
    "main ",
    "run ",
    "serve ",
)


async def record(pid: int, seconds: float, raw_path: Path) -> bool:
    """Sample ``pid`` for ``seconds`` into ``raw_path`` (py-spy's raw format); False if py-spy is absent."""
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        return False
    proc = await asyncio.create_subprocess_exec(
        spy,
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--rate",
        "100",
        "--duration",
        str(max(1, round(seconds))),
        "--output",
        str(raw_path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await proc.wait() == 0


def top(raw_path: Path, n: int = 25) -> list[tuple[str, float]]:
    """(function and file, share of samples) for the ``n`` largest, inclusive."""
    shares: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        seen = set()
        for frame in stack.split(";"):
            function, _, where = frame.partition(" (")
            name = f"{function} ({where.rsplit('/', 1)[-1].split(':')[0]})"
            if name not in seen and not any(function.startswith(x.strip()) for x in _NOISE):
                seen.add(name)
                shares[name] += samples
    return [(name, samples / total) for name, samples in shares.most_common(n)] if total else []


def table(entries: list[tuple[str, float]]) -> list[str]:
    return ["| share of samples | function (file) |", "| ---: | --- |"] + [
        f"| {share:.1%} | `{name}` |" for name, share in entries
    ]
