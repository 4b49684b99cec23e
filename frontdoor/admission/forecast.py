"""Arrivals forecast per kind: a combination of simple forecasts, each weighted by its own recent skill.

Why this method. Replayed on real traffic, the earlier Holt-Winters lost to "last value" at every
horizon: its seasonal profile drifted away from the level over the months and it had no way to notice
that the shape had stopped earning its keep (holidays, storms, bursts). The forecasting competitions
keep finding that combinations of simple methods beat single elaborate ones (Makridakis et al., the M4
competition, 2020), and that weights from each method's recent performance work as well as any fitted
scheme (Bates and Granger, 1969; Timmermann, 2006). So:

- **Candidates** (ten). The recent level, an exponentially weighted mean of the last minutes at three
  speeds (alpha = 1, which is "last value", 0.3 and 0.1), and a level with a damped trend (Gardner's
  damped Holt) for ramps and decays. And the level **shaped** by a seasonal profile, at the same three
  speeds: the level times the profile's expected change from now to the target, ``S(t+h) / S̄(t)``,
  where ``S̄`` is the profile smoothed exactly as the level is, so the level's lag is corrected on the
  ramps. There are two profiles: a daily one per day type (working day, rest day) and a weekly one.
  They are learned in arrivals per minute at 5-minute slots (interpolated between) and used only as
  ratios, so a profile's scale can never drift away from the level.
- **Weights.** Every candidate's forecast at each horizon (1, 5, 15, 60 minutes) is scored when its
  target minute arrives, and its mean absolute error kept with a half-life of six hours. The forecast at
  a horizon weighs the candidates exponentially by their error relative to the best one's there (the
  exponentially weighted average forecaster of online learning, Cesa-Bianchi and Lugosi, 2006, made
  scale-free): a shape that has not earned its place gets almost no weight. A break (a surge's ramp, a
  holiday's first hours) shows first a minute ahead; when a candidate's error there over the last ten
  minutes falls below half the combination's, the last ten minutes' errors weigh the candidates up to
  15 minutes ahead until the long memory catches up. Beyond 60 minutes (the quiet time suggested to a
  shed citizen, hours ahead) the 60-minute weights hold.
- **Robustness.** A minute teaches a profile at most twice or half the slot's value, so a policy-day
  surge barely reaches tomorrow's shape. Operators' holidays (``holidays``) are rest days for the daily
  profile and Sundays for the weekly one.
- **Interval.** From the combined forecast's own recent errors at each horizon (online conformal
  prediction on ``log((y + 1) / (ŷ + 1))``), so its coverage is measured rather than assumed.

An update is about a thousand float operations (some 80 µs in CPython), and the state is plain data
the controller stores in Redis, so another front door can take over the forecast.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import statistics
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from frontdoor.admission.seasonal_profile import SeasonalProfile

SLOT_MINUTES = 5
DAY_SLOTS = 24 * 60 // SLOT_MINUTES
HORIZONS = (1, 5, 15, 60)  # minutes ahead at which candidates are scored and the interval calibrated
LEVEL_ALPHAS = (1.0, 0.3, 0.1)
SHAPED_ALPHAS = (1.0, 0.3, 0.1)
PROFILES = ("day", "week")
SKILL_HALF_LIFE_MINUTES = 360.0
# Errors also kept over the last minutes: when another candidate has been far better there (the ramp of
# a surge, a holiday's first hours), it takes over at once rather than after hours of evidence.
FAST_HALF_LIFE_MINUTES = 10.0
SWITCH_RATIO = 0.5
SWITCH_HORIZON = 15  # an hour ahead, the shape still knows more than the last minutes do
QUIET_CONFIDENCE = 0.9  # a suggested quiet minute is below capacity at least this often
MIN_SCORED = 60  # scored forecasts a candidate needs before it may carry weight
SHARPNESS = 10.0  # a candidate 10 % worse than the best keeps e^-1 of its weight, 50 % worse e^-5
_RESIDUALS_KEPT = 1440
_TEACH = {"day": 0.05, "week": 0.15}  # per minute, per profile: a slot's memory of a few weeks

# (profile, alpha of its level): None is a flat level, "trend" the damped trend, else a shape.
TREND_ALPHA, TREND_BETA, TREND_PHI = 0.5, 0.1, 0.9
CANDIDATES: tuple[tuple[str | None, float], ...] = (
    *((None, a) for a in LEVEL_ALPHAS),
    ("trend", TREND_ALPHA),
    *((p, a) for p in PROFILES for a in SHAPED_ALPHAS),
)

_DEFAULT = CANDIDATES.index((None, 0.3))  # before any skill is known: a smoothed level


@dataclass(frozen=True, slots=True)
class Prediction:
    mean: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class ForecastParams:
    coverage: float = 0.9  # nominal coverage of the prediction interval


class Forecaster:
    def __init__(
        self,
        timezone: str = "Asia/Shanghai",
        params: ForecastParams | None = None,
        *,
        holidays: Collection[str] = (),
    ) -> None:
        self.params = params or ForecastParams()
        self._tz = ZoneInfo(timezone)
        self._holidays = {dt.date.fromisoformat(d) for d in holidays}
        self.last_minute: int | None = None
        self.levels: list[float] | None = None  # per LEVEL_ALPHAS
        self._trend_level: float | None = None
        self._trend = 0.0
        # Per profile and SHAPED_ALPHAS: the profile's value at the minutes observed, smoothed like the level.
        self._shape_now: dict[str, list[float | None]] = {p: [None] * len(SHAPED_ALPHAS) for p in PROFILES}
        self.profiles = {
            "work": SeasonalProfile(DAY_SLOTS),
            "rest": SeasonalProfile(DAY_SLOTS),
            "week": SeasonalProfile(7 * DAY_SLOTS),
        }
        self._error = [[0.0] * len(HORIZONS) for _ in CANDIDATES]
        self._fast_error = [[0.0] * len(HORIZONS) for _ in CANDIDATES]
        self._combined_fast_error = 0.0  # the combination's own recent error, a minute ahead
        self._combined_scored = 0
        self._scored = [[0] * len(HORIZONS) for _ in CANDIDATES]
        self._made: dict[int, list[list[float | None]]] = {}  # origin minute -> [candidate][horizon]
        self._made_combined: dict[int, list[float]] = {}
        self._residuals: dict[int, deque[float]] = {h: deque(maxlen=_RESIDUALS_KEPT) for h in HORIZONS}
        self._sorted: dict[int, list[float]] = {h: [] for h in HORIZONS}
        self._calendar: dict[int, tuple[int, int]] = {}
        self._weights: list[list[tuple[int, float]]] | None = None
        self._below: dict[tuple[int | None, float, int], int | None] = {}

    # --- time ---------------------------------------------------------------------------------
    def _when(self, minute: int) -> tuple[int, int]:
        """Local minute of the day and day of the week (a holiday counts as Sunday), cached per hour."""
        hour = minute // 60
        cached = self._calendar.get(hour)
        if cached is None:
            local = dt.datetime.fromtimestamp(hour * 3600, self._tz)
            weekday = 6 if local.date() in self._holidays else local.weekday()
            cached = (local.hour * 60 + local.minute, weekday)
            if len(self._calendar) > 2000:
                self._calendar.clear()
            self._calendar[hour] = cached
        return cached[0] + minute % 60, cached[1]

    def _slots(self, minute: int) -> dict[str, tuple[SeasonalProfile, float]]:
        of_day, weekday = self._when(minute)
        slot = (of_day + 0.5) / SLOT_MINUTES - 0.5
        daily = self.profiles["rest" if weekday >= 5 else "work"]
        return {"day": (daily, slot), "week": (self.profiles["week"], weekday * DAY_SLOTS + slot)}

    def _shape(self, profile: str, minute: int) -> float | None:
        table, slot = self._slots(minute)[profile]
        return table.at(slot)

    # --- learning -------------------------------------------------------------------------------
    def observe(self, minute: int, count: float) -> None:
        """Learn the count of one whole minute (``minute`` is unix seconds // 60, in order)."""
        if self.last_minute is not None and minute <= self.last_minute:
            return
        y = max(0.0, float(count))
        self._score(minute, y)
        if self._trend_level is None:
            self._trend_level = y
        else:
            before = self._trend_level
            expected = before + TREND_PHI * self._trend
            self._trend_level = TREND_ALPHA * y + (1 - TREND_ALPHA) * expected
            self._trend = (
                TREND_BETA * (self._trend_level - before) + (1 - TREND_BETA) * TREND_PHI * self._trend
            )
        if self.levels is None:
            self.levels = [y] * len(LEVEL_ALPHAS)
        else:
            self.levels = [
                a * y + (1 - a) * level for a, level in zip(LEVEL_ALPHAS, self.levels, strict=True)
            ]
        for name, (table, slot) in self._slots(minute).items():
            now = table.at(slot)
            smoothed = self._shape_now[name]
            for i, a in enumerate(SHAPED_ALPHAS):
                old = smoothed[i]
                smoothed[i] = now if old is None or now is None else a * now + (1 - a) * old
            table.teach(slot, y, _TEACH[name])
        self.last_minute = minute
        self._weights = None
        self._remember(minute)

    def _candidate(self, c: int, h: int) -> float | None:
        assert self.levels is not None and self.last_minute is not None
        profile, alpha = CANDIDATES[c]
        if profile is None:
            return self.levels[LEVEL_ALPHAS.index(alpha)]
        if profile == "trend":
            assert self._trend_level is not None
            damped = TREND_PHI * (1 - TREND_PHI**h) / (1 - TREND_PHI)
            return max(0.0, self._trend_level + damped * self._trend)
        now = self._shape_now[profile][SHAPED_ALPHAS.index(alpha)]
        ahead = self._shape(profile, self.last_minute + h)
        if now is None or ahead is None or now <= 0:
            return None
        return self.levels[LEVEL_ALPHAS.index(alpha)] * ahead / now

    def _remember(self, minute: int) -> None:
        made = [[self._candidate(c, h) for h in HORIZONS] for c in range(len(CANDIDATES))]
        self._made[minute] = made
        self._made_combined[minute] = [self.mean(h) for h in HORIZONS]
        oldest = minute - max(HORIZONS)
        for old in [m for m in self._made if m < oldest]:
            del self._made[old]
            self._made_combined.pop(old, None)

    def _score(self, minute: int, y: float) -> None:
        keep = 0.5 ** (1 / SKILL_HALF_LIFE_MINUTES)
        fast = 0.5 ** (1 / FAST_HALF_LIFE_MINUTES)
        for k, h in enumerate(HORIZONS):
            made = self._made.get(minute - h)
            if made is None:
                continue
            for c, forecasts in enumerate(made):
                f = forecasts[k]
                if f is not None:
                    self._error[c][k] = keep * self._error[c][k] + (1 - keep) * abs(y - f)
                    self._fast_error[c][k] = fast * self._fast_error[c][k] + (1 - fast) * abs(y - f)
                    self._scored[c][k] += 1
            predicted = self._made_combined[minute - h][k]
            if k == 0:
                self._combined_fast_error = fast * self._combined_fast_error + (1 - fast) * abs(y - predicted)
                self._combined_scored += 1
            residual = math.log((y + 1) / (predicted + 1))
            kept, ordered = self._residuals[h], self._sorted[h]
            if len(kept) == kept.maxlen:
                ordered.pop(bisect.bisect_left(ordered, kept[0]))
            kept.append(residual)
            bisect.insort(ordered, residual)

    def _weights_at(self, k: int) -> list[tuple[int, float]]:
        """The candidates combined at horizon index ``k``, with their weights (summing to 1)."""
        if self._weights is None:
            self._weights = [self._choose(i) for i in range(len(HORIZONS))]
        return self._weights[k]

    def _choose(self, k: int) -> list[tuple[int, float]]:
        errors = self._skill(self._error, k, SKILL_HALF_LIFE_MINUTES)
        if not errors:
            return [(_DEFAULT, 1.0)]
        # The first minute ahead sees a break first (its forecasts are scored a minute after they are
        # made). When a candidate has lately been far better there than the combination, the recent
        # errors weigh the candidates at every horizon up to SWITCH_HORIZON until the memory catches up.
        first = self._skill(self._fast_error, 0, FAST_HALF_LIFE_MINUTES)
        n = self._combined_scored
        if HORIZONS[k] <= SWITCH_HORIZON and first and n >= MIN_SCORED:
            combined = self._combined_fast_error / (1 - (0.5 ** (1 / FAST_HALF_LIFE_MINUTES)) ** n)
            recent = self._skill(self._fast_error, k, FAST_HALF_LIFE_MINUTES)
            if min(first)[0] < SWITCH_RATIO * combined and recent:
                errors = recent
        best = max(min(e for e, _ in errors), 1e-9)
        weights = [(c, math.exp(-SHARPNESS * (e / best - 1))) for e, c in errors]
        total = sum(w for _, w in weights)
        return [(c, w / total) for c, w in weights if w / total >= 0.001]

    def _skill(self, errors: list[list[float]], k: int, half_life: float) -> list[tuple[float, int]]:
        keep = 0.5 ** (1 / half_life)
        out = []
        for c in range(len(CANDIDATES)):
            n = self._scored[c][k]
            if n >= MIN_SCORED:
                # The running mean starts at zero: divide out the weight it has not yet gathered.
                out.append((errors[c][k] / (1 - keep**n), c))
        return out

    # --- forecasting ---------------------------------------------------------------------------
    def mean(self, h: int) -> float:
        """Expected arrivals in the minute ``h`` minutes after the last one observed."""
        if self.levels is None or self.last_minute is None:
            return 0.0
        k = next((i for i, x in enumerate(HORIZONS) if x >= h), len(HORIZONS) - 1)
        total = weight = 0.0
        for c, w in self._weights_at(k):
            f = self._candidate(c, h)
            if f is not None:
                total += w * f
                weight += w
        if weight == 0:
            return self.levels[LEVEL_ALPHAS.index(0.3)]
        return max(0.0, total / weight)

    def predict(self, h: int) -> Prediction:
        mean = self.mean(h)
        tail = (1 - self.params.coverage) / 2
        low = self._quantile(mean, h, tail)
        high = self._quantile(mean, h, 1 - tail)
        return Prediction(mean, max(0.0, min(low, mean)), max(high, mean))

    def _quantile(self, mean: float, h: int, q: float) -> float:
        """The ``q`` quantile of arrivals ``h`` minutes ahead, from the recent errors at that horizon."""
        horizon = next((x for x in HORIZONS if x >= h), HORIZONS[-1])
        ordered = self._sorted[horizon]
        if len(ordered) < 30:
            z = statistics.NormalDist().inv_cdf(q)
            return mean + z * math.sqrt(mean + 1) * (1 + h / 5)
        residual = ordered[int(q * (len(ordered) - 1))]
        # Beyond the calibrated horizons a flat level's error grows like a random walk's; a seasonal
        # shape's stays about what it is an hour ahead (the shape, not the last minutes, carries it).
        if h > horizon:
            flat = sum(
                w for c, w in self._weights_at(len(HORIZONS) - 1) if CANDIDATES[c][0] in (None, "trend")
            )
            residual *= 1 + (math.sqrt(h / horizon) - 1) * flat
        return (mean + 1) * math.exp(residual) - 1

    def first_minute_below(self, threshold: float, *, within: int = 24 * 60) -> int | None:
        """How many minutes ahead arrivals first fall below ``threshold`` a minute with 90 % confidence
        (the upper decile of the forecast): a time suggested to a shed citizen should in fact be quiet,
        not as likely busy as not (the mean crosses the threshold where arrivals hover about it)."""
        # Up to a few milliseconds of scanning, on a door's event loop: once per minute and threshold.
        key = (self.last_minute, round(threshold, 1), within)
        if key in self._below:
            return self._below[key]
        found = next(
            (
                h
                for h in range(1, within + 1)
                if self.mean(h) < threshold and self.predict(h).high < threshold
            ),
            None,
        )
        if len(self._below) > 64:
            self._below.clear()
        self._below[key] = found
        return found

    def weights(self) -> dict[int, dict[str, float]]:
        """For operators: which candidates carry the forecast at each horizon."""
        out: dict[int, dict[str, float]] = {}
        for k, h in enumerate(HORIZONS):
            out[h] = {_label(c): round(w, 3) for c, w in self._weights_at(k)} if self.levels else {}
        return out

    # --- state ---------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "v": 2,
            "last_minute": self.last_minute,
            "levels": self.levels,
            "trend": [self._trend_level, self._trend],
            "shape_now": self._shape_now,
            "profiles": {name: p.values for name, p in self.profiles.items()},
            "error": self._error,
            "fast_error": self._fast_error,
            "combined_fast": [self._combined_fast_error, self._combined_scored],
            "scored": self._scored,
            "made": {str(m): f for m, f in self._made.items()},
            "made_combined": {str(m): f for m, f in self._made_combined.items()},
            "residuals": {str(h): list(r) for h, r in self._residuals.items()},
        }

    @classmethod
    def from_state(
        cls,
        state: dict[str, Any],
        timezone: str = "Asia/Shanghai",
        params: ForecastParams | None = None,
        *,
        holidays: Collection[str] = (),
    ) -> Forecaster:
        f = cls(timezone, params, holidays=holidays)
        if state.get("v") != 2:
            return f  # an older model's state: learn afresh rather than misread it
        f.last_minute = state["last_minute"]
        f.levels = state["levels"]
        f._trend_level, f._trend = state["trend"][0], float(state["trend"][1])
        f._shape_now = {p: list(state["shape_now"][p]) for p in PROFILES}
        for name, values in state["profiles"].items():
            f.profiles[name] = SeasonalProfile(len(values), list(values))
        f._error = [list(map(float, row)) for row in state["error"]]
        f._fast_error = [list(map(float, row)) for row in state["fast_error"]]
        f._combined_fast_error = float(state["combined_fast"][0])
        f._combined_scored = int(state["combined_fast"][1])
        f._scored = [list(map(int, row)) for row in state["scored"]]
        f._made = {int(m): v for m, v in state["made"].items()}
        f._made_combined = {int(m): v for m, v in state["made_combined"].items()}
        for h in HORIZONS:
            for r in state["residuals"].get(str(h), []):
                f._residuals[h].append(float(r))
            f._sorted[h] = sorted(f._residuals[h])
        return f


def _label(c: int) -> str:
    profile, alpha = CANDIDATES[c]
    if profile is None:
        return f"level α={alpha}"
    if profile == "trend":
        return f"damped trend, level α={alpha}"
    return f"{profile} shape, level α={alpha}"
