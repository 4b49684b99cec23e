"""The benchmark's report: Markdown with PNG plots (matplotlib), written next to the raw locust CSVs."""

from __future__ import annotations

import math
import shlex
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from bench.harness.accounting import Accounting
from bench.harness.load import LoadResult
from bench.harness.sampler import Sample

OUTCOMES = ("accepted", "repeat", "shed", "limited", "unavailable", "rejected", "error", "no answer")


@dataclass
class ScenarioRun:
    target: str
    load: LoadResult
    samples: list[Sample]
    cpu_seconds: dict[str, float]
    accounting: Accounting | None = None
    ledger: dict[str, int] = field(default_factory=dict)

    def outcome(self, name: str) -> int:
        return self.load.count("outcome", name)

    @property
    def answered_2xx(self) -> int:
        return self.outcome("accepted") + self.outcome("repeat")

    @property
    def offered(self) -> int:
        """Citizens who arrived (their submissions, answered or not by the end of the run)."""
        return self.load.count("arrival", "citizen") or sum(self.outcome(o) for o in OUTCOMES)


@dataclass
class ThroughputRun:
    target: str
    connections: int
    seconds: float
    accepted: int
    other: int
    p50: float
    p99: float
    cpu_seconds: dict[str, float]

    @property
    def per_second(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def _series(load: LoadResult, kind: str, name: str, column: str) -> tuple[list[float], list[float]]:
    rows = [r for r in load.history if r["Type"] == kind and r["Name"] == name]
    if not rows:
        return [], []
    t0 = min(float(r["Timestamp"]) for r in load.history)
    xs, ys = [], []
    for r in rows:
        try:
            value = float(r[column])
        except (KeyError, ValueError):
            continue
        xs.append(float(r["Timestamp"]) - t0)
        ys.append(value)
    return xs, ys


def _save(fig: Figure, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def plot_scenario(run: ScenarioRun, plots: Path, stem: str) -> list[tuple[str, str]]:
    """The time series of one target's scenario run; (title, file name) pairs."""
    out: list[tuple[str, str]] = []
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for name in OUTCOMES:
        xs, ys = _series(run.load, "outcome", name, "Requests/s")
        if xs and max(ys, default=0) > 0:
            ax.plot(xs, ys, label=name)
    ax.set(xlabel="seconds", ylabel="answers / s", title=f"{run.target}: submissions by outcome")
    ax.legend(loc="upper left", fontsize=8)
    out.append(
        (
            "Submissions by outcome (accepted, shed and limited by reason)",
            _save(fig, plots / f"{stem}-outcomes.png"),
        )
    )

    fig, ax = plt.subplots(figsize=(8, 3.2))
    for column in ("50%", "95%", "99%"):
        xs, ys = _series(run.load, "POST", "submit", column)
        ax.plot(xs, ys, label=f"p{column.rstrip('%')}")
    ax.set(xlabel="seconds", ylabel="ms", title=f"{run.target}: submission latency (10 s window)")
    ax.set_yscale("symlog", linthresh=10)
    ax.legend(loc="upper left", fontsize=8)
    out.append(("Submission latency p50/p95/p99", _save(fig, plots / f"{stem}-latency.png")))

    if run.samples:
        ts = [s.t for s in run.samples]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
        if any(s.queue_depth is not None for s in run.samples):
            ax1.plot(ts, [s.queue_depth or 0 for s in run.samples])
        ax1.set(xlabel="seconds", ylabel="messages", title="queue depth")
        ax2.plot(ts, [math.nan if s.core_p50 is None else s.core_p50 for s in run.samples], label="p50")
        ax2.plot(ts, [math.nan if s.core_p99 is None else s.core_p99 for s in run.samples], label="p99")
        ax2.set(xlabel="seconds", ylabel="seconds", title="core latency (2 s window)")
        ax2.legend(fontsize=8)
        out.append(("Queue depth and core latency", _save(fig, plots / f"{stem}-queue-core.png")))

    if run.accounting is not None and run.accounting.completion:
        first = min(c for c, _ in run.accounting.completion)
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
        ax1.scatter(
            [c - first for c, _ in run.accounting.completion], [d for _, d in run.accounting.completion], s=2
        )
        ax1.set(xlabel="submitted at (s)", ylabel="seconds to done", title="end-to-end completion")
        durations = sorted(d for _, d in run.accounting.completion)
        ax2.plot(durations, [(i + 1) / len(durations) for i in range(len(durations))])
        ax2.set(xlabel="seconds to done", ylabel="share of tickets", title="completion CDF")
        out.append(("End-to-end completion time", _save(fig, plots / f"{stem}-completion.png")))
    return out


def plot_comparison(runs: Sequence[ScenarioRun], plots: Path) -> list[tuple[str, str]]:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.4))
    for run in runs:
        totals: dict[float, float] = defaultdict(float)
        for name in ("accepted", "repeat"):
            for x, y in zip(*_series(run.load, "outcome", name, "Requests/s"), strict=True):
                totals[round(x)] += y
        xs = sorted(totals)
        ax1.plot(xs, [totals[x] for x in xs], label=run.target)
        ax2.plot(*_series(run.load, "POST", "submit", "99%"), label=run.target)
    ax1.set(xlabel="seconds", ylabel="2xx / s", title="answered with a ticket or a result")
    ax2.set(xlabel="seconds", ylabel="ms", title="submission p99 (10 s window)")
    ax2.set_yscale("log")
    for ax in (ax1, ax2):
        ax.legend(fontsize=8)
    return [("Side by side", _save(fig, plots / "comparison.png"))]


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.1f}×" if theirs > 0 else "∞"


def scenario_tables(runs: Sequence[ScenarioRun], seconds: float, cores: int) -> list[str]:
    lines = [
        "| target | citizens arrived | 2xx | shed 503 | limited 429 | 5xx, errors, no answer | submit p50 ms | submit p99 ms | core effects | generator CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        submit = run.load.total("POST", "submit")
        errors = run.outcome("unavailable") + run.outcome("error") + run.outcome("no answer")
        gen = run.cpu_seconds.get("load generator", 0.0) / max(1e-9, seconds * cores)
        lines.append(
            f"| {run.target} | {run.offered:,} | {run.answered_2xx:,} | {run.outcome('shed'):,} | "
            f"{run.outcome('limited'):,} | {errors:,} | {_fmt(submit.p50 if submit else None)} | "
            f"{_fmt(submit.p99 if submit else None)} | {run.ledger.get('effects', 0):,} | {gen:.0%} |"
        )
    return lines


def _share(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1%}"


def accounting_table(acc: Accounting) -> list[str]:
    hit = _share(acc.eta_hit_rate)
    parts = [f"{source} {_share(acc.source_hit_rate(source))}" for source in sorted(acc.eta_by_source)]
    if parts:
        hit += f" ({', '.join(parts)})"
    use = "–" if acc.promise_use is None else f"{acc.promise_use:.2f}"
    return [
        "| tickets issued (202) | done | failed | booked for later | lost | applied twice | done without effect | unfinished at the timeout | ETA p90 held | wait ÷ promised p90, median | drained in |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {acc.issued:,} | {acc.done:,} | {acc.failed:,} | {acc.scheduled:,} | {acc.lost:,} | {acc.applied_twice:,} | "
        f"{acc.not_applied:,} | {acc.unfinished:,} | {hit} | {use} | {acc.drain_seconds:.0f} s |",
    ]


def promise_table(acc: Accounting, seconds: float = 10.0) -> list[str]:
    lines = [
        f"| issued at (s into the run, {seconds:.0f} s windows) | tickets | ETA p90 held | wait ÷ promised p90, median |",
        "| --- | ---: | ---: | ---: |",
    ]
    for w in acc.promises_by_window(seconds):
        lines.append(
            f"| {w.start:.0f}–{w.start + seconds:.0f}, {w.source} | {w.judged:,} | {w.held / w.judged:.1%} | {w.use:.2f} |"
        )
    return lines


def throughput_table(runs: Sequence[ThroughputRun], broker_ceiling: float | None, cores: int) -> list[str]:
    ours = next((r for r in runs if r.target == "ticketgate"), None)
    lines = [
        "| target | connections | accepted / s | ticketgate ÷ this | p50 ms | p99 ms | other answers | generator CPU | server CPU by process role |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for run in runs:
        machine = max(1e-9, run.seconds * cores)
        gen = run.cpu_seconds.get("load generator", 0.0) / machine
        servers = ", ".join(
            f"{role} {seconds / machine:.0%}"
            for role, seconds in sorted(run.cpu_seconds.items(), key=lambda rs: -rs[1])
            if role != "load generator"
        )
        ratio = _ratio(ours.per_second, run.per_second) if ours is not None else "–"
        lines.append(
            f"| {run.target} | {run.connections:,} | {run.per_second:,.0f} | {ratio} | {_fmt(run.p50)} | "
            f"{_fmt(run.p99)} | {run.other:,} | {gen:.0%} | {servers} |"
        )
    if broker_ceiling is not None:
        ratio = _ratio(ours.per_second, broker_ceiling) if ours is not None else "–"
        lines.append(
            f"| RabbitMQ intake (broker ceiling) | pipelined | {broker_ceiling:,.0f} | {ratio} | – | – | – | – | – |"
        )
    return lines


@dataclass
class PacedRun:
    """Submissions at a fixed total rate over many connections (locust ``Paced`` users)."""

    target: str
    connections: int
    rate: float  # asked for, submissions a second
    seconds: float
    accepted: int
    other: int
    p50: float
    p95: float
    p99: float
    generator_cpu: float  # share of the machine


def paced_table(runs: Sequence[PacedRun]) -> list[str]:
    lines = [
        "| target | connections | asked / s | accepted / s | p50 ms | p95 ms | p99 ms | other answers | generator CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        lines.append(
            f"| {run.target} | {run.connections:,} | {run.rate:,.0f} | {run.accepted / run.seconds:,.0f} | "
            f"{_fmt(run.p50)} | {_fmt(run.p95)} | {_fmt(run.p99)} | {run.other:,} | {run.generator_cpu:.0%} |"
        )
    return lines


def heading(title: str, module: str) -> list[str]:
    """A report's title and the command that wrote it (this process's own arguments, quoted)."""
    return [f"# {title}", "", "```sh", f"python -m {module} " + shlex.join(sys.argv[1:]), "```", ""]


def save(out: Path, text: str) -> None:
    """``text`` as ``out/report.md``, the directory made if need be, and where it went said."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(text, encoding="utf-8")
    print(f"report: {out / 'report.md'}")


def write(path: Path, sections: list[str]) -> None:
    path.write_text("\n".join(sections).rstrip() + "\n", encoding="utf-8")
