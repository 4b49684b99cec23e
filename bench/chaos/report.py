"""The chaos run's report: verdict, answers, tickets, faults with recovery, and the processes' resources
over time (Markdown, a JSON of the figures, and a plot when matplotlib is there)."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.chaos.accounting import Accounting
from bench.chaos.faults import Dealt
from bench.chaos.load import Answer
from bench.chaos.supervisor import ResourceSample

OK = (200, 202)


@dataclass(frozen=True, slots=True)
class Recovery:
    dealt: Dealt
    no_202_seconds: float | None  # the longest stretch without a 202, from the fault to 30 s after it
    after_back_seconds: float | None  # from the part being back to the first 202 for a request sent then


def recoveries(dealt: Sequence[Dealt], answers: Sequence[Answer]) -> list[Recovery]:
    ok = sorted((a.received, a.sent) for a in answers if a.status in OK and a.source != "bulk")
    out = []
    for d in dealt:
        window = [received for received, _ in ok if d.began < received <= d.ended + 30]
        marks = [d.began, *window]
        longest = max((b - a for a, b in itertools.pairwise(marks)), default=None)
        back = min((received for received, sent in ok if sent >= d.ended), default=None)
        out.append(Recovery(d, longest, None if back is None else back - d.ended))
    return out


def server_errors(answers: Sequence[Answer]) -> list[Answer]:
    """5xx other than 503 (503 is the honest "not now" the contract allows)."""
    return [a for a in answers if a.status is not None and a.status >= 500 and a.status != 503]


@dataclass(frozen=True, slots=True)
class Growth:
    process: str
    samples: int
    rss_mb: tuple[float, float, float]  # warm median, last-quarter median, max
    fds: tuple[int, int, int]
    connections: tuple[int, int, int]

    @property
    def rss_growth(self) -> float:
        return (self.rss_mb[1] - self.rss_mb[0]) / self.rss_mb[0] if self.rss_mb[0] else 0.0

    @property
    def fd_growth(self) -> float:
        return (self.fds[1] - self.fds[0]) / self.fds[0] if self.fds[0] else 0.0


def growth(samples: Sequence[ResourceSample], seconds: float) -> list[Growth]:
    """Per process: its median in the second quarter of the run (after warm-up) against its median in
    the last quarter, and its maximum. A process killed and restarted starts low again; a leak shows as
    a last quarter above the second whatever the restarts."""
    by: dict[str, list[ResourceSample]] = defaultdict(list)
    for s in samples:
        by[s.process].append(s)
    out = []
    for name, rows in sorted(by.items()):
        warm = [r for r in rows if 0.25 * seconds <= r.t < 0.5 * seconds] or rows
        late = [r for r in rows if r.t >= 0.75 * seconds] or rows

        rss, fds, conns = (_triple(attr, warm, late, rows) for attr in ("rss_mb", "fds", "connections"))
        out.append(
            Growth(
                name,
                len(rows),
                (round(rss[0], 1), round(rss[1], 1), round(rss[2], 1)),
                (int(fds[0]), int(fds[1]), int(fds[2])),
                (int(conns[0]), int(conns[1]), int(conns[2])),
            )
        )
    return out


def _triple(
    attr: str, warm: list[ResourceSample], late: list[ResourceSample], rows: list[ResourceSample]
) -> Any:
    return (
        statistics.median(getattr(r, attr) for r in warm),
        statistics.median(getattr(r, attr) for r in late),
        max(getattr(r, attr) for r in rows),
    )


def verdict(accounting: Accounting, answers: Sequence[Answer]) -> bool:
    return accounting.clean and not server_errors(answers)


def write(
    out: Path,
    *,
    command: str,
    commit: str,
    seconds: float,
    rate: float,
    answers: Sequence[Answer],
    accounting: Accounting,
    dealt: Sequence[Dealt],
    samples: Sequence[ResourceSample],
    restarts: dict[str, int],
    unexpected_exits: Sequence[tuple[float, str, int]],
    republished: int,
) -> str:
    out.mkdir(parents=True, exist_ok=True)
    passed = verdict(accounting, answers)
    errors = server_errors(answers)
    lines = [
        f"# Chaos run: {seconds / 60:.0f} minutes at {rate:g} submissions a second",
        "",
        f"Command: `{command}` at commit `{commit}`.",
        "",
        f"**Verdict: {'PASS' if passed else 'FAIL'}.** {accounting.issued:,} tickets given out (202, or 200 "
        f"naming an existing ticket): lost **{len(accounting.lost)}**, stuck **{len(accounting.stuck)}**, "
        f"applied twice **{len(accounting.applied_twice)}**, done without an effect "
        f"{len(accounting.done_without_effect)}, failed with an effect {len(accounting.failed_with_effect)}; "
        f"5xx other than 503: **{len(errors)}**. All settled {accounting.drain_seconds:.0f} s after the load "
        "stopped.",
        "",
        "## Answers by status code",
        "",
        "| status | citizen | citizen retry (no answer before) | bulk | bulk retry |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for a in answers:
        key = "no answer" if a.status is None else f"{a.status}" + (f" {a.error}" if a.error else "")
        table[key][a.source] += 1
    for key in sorted(table):
        c = table[key]
        lines.append(
            f"| {key} | {c['citizen']:,} | {c['citizen retry']:,} | {c['bulk']:,} | {c['bulk retry']:,} |"
        )
    lines += [
        "",
        "## Where every ticket ended",
        "",
        "| status | tickets |",
        "| --- | ---: |",
        *(f"| {status} | {n:,} |" for status, n in accounting.by_status.most_common()),
        "",
        "Failed, by error: "
        + (", ".join(f"`{code}` {n}" for code, n in accounting.failed_by_error.most_common()) or "none")
        + ". (`core_422` is the core's own refusal, which no retry can fix; the simulator refuses 1 % of "
        "calls.)",
        "",
        f"Retries whose message never came back from its delay queue and were republished by the retry "
        f"sweeper: {republished}.",
        "",
    ]
    for title, items in (
        ("Lost", accounting.lost),
        ("Stuck", [f"{t} ({s})" for t, s in accounting.stuck]),
        ("Applied twice", accounting.applied_twice),
        ("5xx other than 503", [f"{a.status} at {a.sent:.1f} s ({a.source})" for a in errors]),
    ):
        if items:
            lines += [f"**{title}** (first 20): " + ", ".join(f"`{i}`" for i in items[:20]), ""]
    lines += [
        "## Faults and recovery",
        "",
        "`no 202 for`: the longest stretch without a 202, from the fault until 30 s after the part was back "
        "(at 20 submissions a second, a stretch of 0.2 s is ordinary). `after back`: from the part being "
        "back (restarted, or answering on its port again) to the first 202 for a request sent after that.",
        "",
        "| at (s) | fault | target | took (s) | no 202 for (s) | after back (s) |",
        "| ---: | --- | --- | ---: | ---: | ---: |",
    ]
    for r in recoveries(dealt, answers):
        d = r.dealt

        def fmt(v: float | None) -> str:
            return "–" if v is None else f"{v:.1f}"

        show = d.planned.kind != "worker kill"
        lines.append(
            f"| {d.began:.0f} | {d.planned.kind} | {d.target} | {d.ended - d.began:.1f} | "
            f"{fmt(r.no_202_seconds) if show else '–'} | {fmt(r.after_back_seconds) if show else '–'} |"
        )
    lines += [
        "",
        "## Processes: memory, descriptors and connections over time",
        "",
        "Median in the second quarter of the run (after warm-up), median in the last quarter, and maximum. "
        f"Sampled every 5 s. Restarts: {', '.join(f'{k} {v}' for k, v in restarts.items()) or 'none'}.",
        "",
        "| process | samples | RSS MB (warm / last / max) | growth | descriptors (warm / last / max) "
        "| TCP connections (warm / last / max) |",
        "| --- | ---: | --- | ---: | --- | --- |",
    ]
    for g in growth(samples, seconds):
        lines.append(
            f"| {g.process} | {g.samples} | {g.rss_mb[0]} / {g.rss_mb[1]} / {g.rss_mb[2]} | "
            f"{g.rss_growth:+.0%} | {g.fds[0]} / {g.fds[1]} / {g.fds[2]} | "
            f"{g.connections[0]} / {g.connections[1]} / {g.connections[2]} |"
        )
    if unexpected_exits:
        lines += ["", "Processes that exited on their own: "]
        lines += [f"- {t:.0f} s: {name} (exit {code})" for t, name, code in unexpected_exits]
    if _plot(out / "resources.png", samples):
        lines += ["", "![memory and descriptors over time](resources.png)"]
    text = "\n".join(lines) + "\n"
    (out / "report.md").write_text(text)
    (out / "figures.json").write_bytes(
        orjson.dumps(
            {
                "passed": passed,
                "issued": accounting.issued,
                "by_status": dict(accounting.by_status),
                "failed_by_error": dict(accounting.failed_by_error),
                "lost": accounting.lost,
                "stuck": accounting.stuck,
                "applied_twice": accounting.applied_twice,
                "server_errors": len(errors),
                "answers": {k: dict(v) for k, v in table.items()},
                "faults": [
                    {
                        "at": r.dealt.began,
                        "kind": r.dealt.planned.kind,
                        "target": r.dealt.target,
                        "took": r.dealt.ended - r.dealt.began,
                        "no_202_for": r.no_202_seconds,
                    }
                    for r in recoveries(dealt, answers)
                ],
                "republished_retries": republished,
            },
            option=orjson.OPT_INDENT_2,
        )
    )
    return text


def _plot(path: Path, samples: Sequence[ResourceSample]) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the bench extras are not installed: the tables say it all
        return False
    by: dict[str, list[ResourceSample]] = defaultdict(list)
    for s in samples:
        by[s.process].append(s)
    fig, (mem, fds) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for name, rows in sorted(by.items()):
        mem.plot([r.t for r in rows], [r.rss_mb for r in rows], ".", markersize=2, label=name)
        fds.plot([r.t for r in rows], [r.fds for r in rows], ".", markersize=2, label=name)
    mem.set_ylabel("RSS (MB)")
    fds.set_ylabel("open descriptors")
    fds.set_xlabel("seconds since the run began")
    mem.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
