"""A seasonal profile of arrivals: arrivals per minute at 5-minute slots of a day (or a week), linear
between slot centres, learned robustly (one minute moves a slot at most to twice or half its value, so
a burst barely reaches the shape)."""

from __future__ import annotations

import math

CLIP = 2.0


class SeasonalProfile:
    """``None`` in a slot until it has been seen."""

    def __init__(self, slots: int, values: list[float | None] | None = None) -> None:
        self.values: list[float | None] = values if values is not None else [None] * slots

    def at(self, slot: float) -> float | None:
        n = len(self.values)
        base = math.floor(slot)
        w = slot - base
        a, b = self.values[base % n], self.values[(base + 1) % n]
        if a is None or b is None:
            return None
        return a * (1 - w) + b * w

    def teach(self, slot: float, y: float, rate: float) -> None:
        n = len(self.values)
        base = math.floor(slot)
        w = slot - base
        for j, weight in ((base % n, 1 - w), ((base + 1) % n, w)):
            old = self.values[j]
            if old is None:
                self.values[j] = y
                continue
            target = min(max(y, old / CLIP), old * CLIP) if old > 0 else y
            self.values[j] = old + rate * weight * (target - old)
