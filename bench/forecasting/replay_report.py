"""The replay's Markdown report: one table of every model a segment, CPU, and the quiet times."""

from __future__ import annotations

import math
import statistics

from bench.forecasting.scores import HORIZONS, ModelResult, QuietTimes


def report(results: list[ModelResult], quiet: list[QuietTimes], command: str, trace: str) -> str:
    lines = [
        "# Forecast replay",
        "",
        f"Command: `{command}`  ",
        f"Trace: {trace}",
        "",
        "WAPE (and the 90 % interval's coverage, for models with one) at each horizon, every model at",
        "the same origins.",
    ]
    for table in ("every origin", "reference origins"):
        keys = sorted({(seg, h) for r in results for (t, seg, h) in r.scores if t == table}, key=_order)
        if not keys:
            continue
        segments = list(dict.fromkeys(seg for seg, _ in keys))
        lines += ["", f"## {table.capitalize()}", ""]
        for segment in segments:
            shown = [r for r in results if any((table, segment, h) in r.scores for h in HORIZONS)]
            if not shown:
                continue
            n = max(
                r.scores[(table, segment, h)].n
                for r in shown
                for h in HORIZONS
                if (table, segment, h) in r.scores
            )
            lines += [f"### {segment} ({n} origins)", ""]
            lines += ["| model | " + " | ".join(f"{h} min" for h in HORIZONS) + " |"]
            lines += ["| --- |" + " ---: |" * len(HORIZONS)]
            for r in shown:
                cells = []
                for h in HORIZONS:
                    s = r.scores.get((table, segment, h))
                    if s is None:
                        cells.append("–")
                    elif math.isnan(s.coverage):
                        cells.append(f"{s.wape:.2%}")
                    else:
                        cells.append(f"{s.wape:.2%} ({s.coverage:.0%})")
                lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
            lines.append("")
    lines += ["## CPU", "", "| model | CPU seconds | steps | CPU per step |", "| --- | ---: | ---: | ---: |"]
    for r in results:
        if r.steps:
            per = r.cpu_seconds / r.steps
            unit = f"{per * 1e6:.1f} µs" if per < 0.01 else f"{per:.2f} s"
            kind = "fits" if "refit" in r.name else "minute updates"
            lines.append(f"| {r.name} | {r.cpu_seconds:.1f} | {r.steps:,} {kind} | {unit} |")
    lines += [
        "",
        "## Quiet times suggested to shed citizens",
        "",
        "At origins where arrivals exceeded the assumed capacity: the first minute ahead each model",
        "forecast below capacity, checked against what came.",
        "",
        "| model | overloaded origins | a time suggested | suggested minute below capacity "
        "| later than needed, median / p90 (min) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for q in quiet:
        share = f"{q.below / q.found:.1%}" if q.found else "–"
        later = f"{statistics.median(q.later_by):.0f} / {_p90(q.later_by):.0f}" if q.later_by else "–"
        lines.append(f"| {q.name} | {q.asked} | {q.found} | {share} | {later} |")
    return "\n".join(lines) + "\n"


def _order(key: tuple[str, int]) -> tuple[int, int, str, int]:
    segment, h = key
    if segment == "all":
        return (0, 0, segment, h)
    if segment.startswith("month "):
        return (1, int(segment.split()[1]), segment, h)
    return (2, 0, segment, h)


def _p90(values: list[int]) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))])
