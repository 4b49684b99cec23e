"""Arrivals forecast per kind: Holt-Winters, updated online once a minute, with a prediction interval.

The model is multiplicative Holt-Winters with a damped trend on per-minute counts:
- a **daily profile** for working days and another for weekends (the 09:00-11:00 and 14:00-17:00 peaks,
  quieter Saturdays and Sundays), at 5-minute resolution and interpolated between slots, so each slot is
  taught fifteen times a day instead of once and the shape is smooth;
- a **level and damped trend** whose smoothing rate adapts (Trigg and Leach's tracking signal): while
  errors keep the same sign, as on the first day of a new policy, the level chases the surge within a
  few minutes; while errors alternate, it stays calm. The daily profile is not taught while the level is
  chasing, so one surge does not haunt the same hour tomorrow;
- a **prediction interval** from the forecast's own recent errors at each horizon (online conformal
  prediction on ``log((y + 1) / (ŷ + 1))``), so its coverage is measured rather than assumed.

The first day is only collected; the profile is initialised from it, as classical Holt-Winters does, and
the weekend profile likewise from the first whole weekend day measured against Friday's level (learned
online from flat, the level would absorb the quiet weekend instead and lurch every Monday). An
update is a few dozen float operations, and the state (two profiles, level, trend, recent errors) is
plain data the controller stores in Redis, so another front door can take over the forecast.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import deque
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

SLOT_MINUTES = 5
SLOTS = 24 * 60 // SLOT_MINUTES
HORIZONS = (1, 5, 15)  # minutes ahead at which the interval is calibrated
_WARMUP_MINUTES = 24 * 60
_RESIDUALS_KEPT = 2000
_MIN_FACTOR, _MAX_FACTOR = 0.01, 100.0


@dataclass(frozen=True, slots=True)
class Prediction:
    mean: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class ForecastParams:
    alpha_min: float = 0.05
    alpha_max: float = 0.7
    beta: float = 0.02
    gamma: float = 0.15
    phi: float = 0.9  # trend damping: a trend fades instead of extrapolating for hours
    tracking: float = 0.15  # smoothing of the tracking signal
    coverage: float = 0.9  # nominal coverage of the prediction interval


class Forecaster:
    def __init__(self, timezone: str = "Asia/Shanghai", params: ForecastParams | None = None) -> None:
        self.params = params or ForecastParams()
        self._tz = ZoneInfo(timezone)
        self.level: float | None = None
        self.trend = 0.0
        self.profiles: dict[str, list[float]] = {"weekday": [1.0] * SLOTS, "weekend": [1.0] * SLOTS}
        self._err = 0.0
        self._abs_err = 0.0
        self.alpha = self.params.alpha_min
        self.last_minute: int | None = None
        self._warmup: list[tuple[int, float]] = []
        # The first weekend day, collected against the level it began with; None once learned.
        self._weekend_seed: list[tuple[int, float]] | None = []
        self._weekend_level: float | None = None
        self._pending: dict[int, list[tuple[int, float]]] = {}
        self._residuals: dict[int, deque[float]] = {h: deque(maxlen=_RESIDUALS_KEPT) for h in HORIZONS}
        self._sorted: dict[int, list[float]] = {h: [] for h in HORIZONS}
        self._offsets: dict[int, tuple[float, bool]] = {}

    # --- time of day --------------------------------------------------------------------------
    def _day(self, minute: int) -> tuple[float, bool]:
        """Local minute of the day and whether it is a weekend, for a unix minute (cached per hour)."""
        hour = minute // 60
        cached = self._offsets.get(hour)
        if cached is None:
            local = dt.datetime.fromtimestamp(hour * 3600, self._tz)
            cached = (local.hour * 60 + local.minute, local.weekday() >= 5)
            if len(self._offsets) > 400:
                self._offsets.clear()
            self._offsets[hour] = cached
        return cached[0] + minute % 60, cached[1]

    def _slots(self, minute: int) -> tuple[list[float], int, int, float]:
        of_day, weekend = self._day(minute)
        pos = (of_day + 0.5) / SLOT_MINUTES - 0.5
        base = math.floor(pos)
        frac = pos - base
        profile = self.profiles["weekend" if weekend else "weekday"]
        return profile, base % SLOTS, (base + 1) % SLOTS, frac

    def season(self, minute: int) -> float:
        profile, j0, j1, w = self._slots(minute)
        return profile[j0] * (1 - w) + profile[j1] * w

    # --- learning -------------------------------------------------------------------------------
    def observe(self, minute: int, count: float) -> None:
        """Learn the count of one whole minute (``minute`` is unix seconds // 60, in order)."""
        if self.last_minute is not None and minute <= self.last_minute:
            return
        y = max(0.0, float(count))
        self._score_pending(minute, y)
        if self.level is None:
            self._warmup.append((minute, y))
            self.last_minute = minute
            if minute - self._warmup[0][0] + 1 >= _WARMUP_MINUTES:
                self._initialise()
            else:
                self._remember_forecasts(minute)
            return
        p = self.params
        self._seed_weekend(minute, y)
        # Minutes nobody counted (no controller was running): the level follows its trend through them.
        for _ in range(min(minute - (self.last_minute or minute) - 1, 24 * 60)):
            self.level = max(0.0, self.level + p.phi * self.trend)
            self.trend *= p.phi
        s = max(self.season(minute), _MIN_FACTOR)
        expected = max(0.0, self.level + p.phi * self.trend) * s
        error = y - expected
        self._err = p.tracking * error + (1 - p.tracking) * self._err
        self._abs_err = p.tracking * abs(error) + (1 - p.tracking) * self._abs_err
        signal = abs(self._err) / self._abs_err if self._abs_err > 0 else 0.0
        self.alpha = min(p.alpha_max, max(p.alpha_min, signal))
        previous = self.level
        level = self.alpha * (y / s) + (1 - self.alpha) * (self.level + p.phi * self.trend)
        self.level = max(level, 0.0)
        self.trend = p.beta * (self.level - previous) + (1 - p.beta) * p.phi * self.trend
        # While the level chases a surge, the profile would learn the surge: teach it less.
        calm = min(1.0, 2 * p.alpha_min / self.alpha)
        self._teach(minute, y, p.gamma * calm)
        self.last_minute = minute
        self._remember_forecasts(minute)

    def _seed_weekend(self, minute: int, y: float) -> None:
        if self._weekend_seed is None or self.level is None:
            return
        of_day, weekend = self._day(minute)
        if not weekend:
            self._weekend_seed.clear()  # only a whole weekend day, from its midnight, will do
            return
        if not self._weekend_seed:
            if of_day != 0:
                return
            self._weekend_level = self.level
        self._weekend_seed.append((minute, y))
        if len(self._weekend_seed) < _WARMUP_MINUTES or not self._weekend_level:
            return
        self.profiles["weekend"] = self._profile_from(self._weekend_seed, self._weekend_level)
        self.level = self._weekend_level  # back to the level the weekday profile is relative to
        self.trend = 0.0
        self._weekend_seed = None

    def _profile_from(self, rows: list[tuple[int, float]], level: float) -> list[float]:
        sums, weights = [0.0] * SLOTS, [0.0] * SLOTS
        for minute, y in rows:
            _, j0, j1, w = self._slots(minute)
            for j, weight in ((j0, 1 - w), (j1, w)):
                sums[j] += weight * y / level
                weights[j] += weight
        return [
            min(_MAX_FACTOR, max(_MIN_FACTOR, sums[j] / weights[j])) if weights[j] else 1.0
            for j in range(SLOTS)
        ]

    def _teach(self, minute: int, y: float, gamma: float) -> None:
        if self.level is None or self.level <= 1e-9:
            return
        profile, j0, j1, w = self._slots(minute)
        ratio = y / self.level
        predicted = profile[j0] * (1 - w) + profile[j1] * w
        step = gamma * (ratio - predicted)
        for j, weight in ((j0, 1 - w), (j1, w)):
            profile[j] = min(_MAX_FACTOR, max(_MIN_FACTOR, profile[j] + weight * step))

    def _initialise(self) -> None:
        """Level and both profiles from the first day, as classical Holt-Winters initialises them."""
        counts = [y for _, y in self._warmup]
        self.level = max(sum(counts) / len(counts), 1e-6)
        learned = self._profile_from(self._warmup, self.level)
        self.profiles = {"weekday": list(learned), "weekend": list(learned)}
        self._warmup = []
        if self.last_minute is not None:
            self._remember_forecasts(self.last_minute)

    # --- forecasting ---------------------------------------------------------------------------
    def mean(self, h: int) -> float:
        """Expected arrivals in the minute ``h`` minutes after the last one observed."""
        if self.last_minute is None:
            return 0.0
        if self.level is None:
            recent = self._warmup[-60:]
            return sum(y for _, y in recent) / len(recent) if recent else 0.0
        p = self.params
        # phi + phi^2 + ... + phi^h
        damped = float(h) if p.phi == 1 else p.phi * (1 - p.phi**h) / (1 - p.phi)
        return max(0.0, self.level + damped * self.trend) * self.season(self.last_minute + h)

    def predict(self, h: int) -> Prediction:
        mean = self.mean(h)
        horizon = next((x for x in HORIZONS if x >= h), HORIZONS[-1])
        ordered = self._sorted[horizon]
        if len(ordered) < 30:
            spread = 1.645 * math.sqrt(mean + 1) * (1 + h / 5)
            return Prediction(mean, max(0.0, mean - spread), mean + spread)
        tail = (1 - self.params.coverage) / 2
        lo = ordered[int(tail * (len(ordered) - 1))]
        hi = ordered[int((1 - tail) * (len(ordered) - 1))]
        # A horizon beyond the calibrated ones widens like a random walk.
        stretch = math.sqrt(h / horizon) if h > horizon else 1.0
        low = (mean + 1) * math.exp(lo * stretch) - 1
        high = (mean + 1) * math.exp(hi * stretch) - 1
        return Prediction(mean, max(0.0, min(low, mean)), max(high, mean))

    def _remember_forecasts(self, minute: int) -> None:
        for h in HORIZONS:
            self._pending.setdefault(minute + h, []).append((h, self.mean(h)))

    def _score_pending(self, minute: int, y: float) -> None:
        for target in [t for t in self._pending if t <= minute]:
            made = self._pending.pop(target)
            if target != minute:
                continue  # that minute was never observed
            for h, predicted in made:
                residual = math.log((y + 1) / (predicted + 1))
                kept, ordered = self._residuals[h], self._sorted[h]
                if len(kept) == kept.maxlen:
                    ordered.pop(bisect.bisect_left(ordered, kept[0]))
                kept.append(residual)
                bisect.insort(ordered, residual)

    def first_minute_below(self, threshold: float, *, within: int = 24 * 60) -> int | None:
        """How many minutes ahead the expected arrivals first fall below ``threshold`` a minute."""
        for h in range(1, within + 1):
            if self.mean(h) < threshold:
                return h
        return None

    # --- state ---------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "v": 1,
            "level": self.level,
            "trend": self.trend,
            "profiles": self.profiles,
            "err": self._err,
            "abs_err": self._abs_err,
            "alpha": self.alpha,
            "last_minute": self.last_minute,
            "warmup": self._warmup,
            "weekend_seed": self._weekend_seed,
            "weekend_level": self._weekend_level,
            "residuals": {str(h): list(r) for h, r in self._residuals.items()},
        }

    @classmethod
    def from_state(
        cls, state: dict[str, Any], timezone: str = "Asia/Shanghai", params: ForecastParams | None = None
    ) -> Forecaster:
        f = cls(timezone, params)
        if state.get("v") != 1:
            return f
        f.level = state["level"]
        f.trend = float(state["trend"])
        f.profiles = {k: [float(x) for x in v] for k, v in state["profiles"].items()}
        f._err, f._abs_err, f.alpha = float(state["err"]), float(state["abs_err"]), float(state["alpha"])
        f.last_minute = state["last_minute"]
        f._warmup = [(int(m), float(y)) for m, y in state["warmup"]]
        seed = state.get("weekend_seed")
        f._weekend_seed = None if seed is None else [(int(m), float(y)) for m, y in seed]
        f._weekend_level = state.get("weekend_level")
        for h in HORIZONS:
            for r in state["residuals"].get(str(h), []):
                f._residuals[h].append(float(r))
            f._sorted[h] = sorted(f._residuals[h])
        return f
