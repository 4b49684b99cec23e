"""What the replay keeps of each model: WAPE and interval coverage by table, segment and horizon, CPU,
and how the quiet times it suggested held."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

HORIZONS = (1, 5, 15, 60)


@dataclass
class Score:
    abs_error: float = 0.0
    actual: float = 0.0
    inside: int = 0
    with_interval: int = 0
    n: int = 0

    def add(self, actual: float, mean: float, low: float, high: float) -> None:
        self.abs_error += abs(actual - mean)
        self.actual += actual
        self.n += 1
        if not math.isnan(low):
            self.with_interval += 1
            self.inside += low <= actual <= high

    @property
    def wape(self) -> float:
        return self.abs_error / self.actual if self.actual else float("nan")

    @property
    def coverage(self) -> float:
        return self.inside / self.with_interval if self.with_interval else float("nan")


@dataclass
class ModelResult:
    name: str
    scores: dict[tuple[str, str, int], Score] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    steps: int = 0

    def score(self, table: str, segment: str, h: int) -> Score:
        return self.scores.setdefault((table, segment, h), Score())


@dataclass
class QuietTimes:
    """How the suggested quiet minutes of one model held."""

    name: str
    asked: int = 0
    found: int = 0
    below: int = 0
    later_by: list[int] = field(default_factory=list)  # suggested minus the first minute truly below
