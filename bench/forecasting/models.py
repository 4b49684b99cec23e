"""The forecasts the replay scores side by side: ticketgate's, the trivial ones every model must beat, a
statsforecast model configured as its documentation recommends for this data, and the noise floor.

Each online model sees the trace one minute at a time (``observe``) and answers, at an origin, the
expected arrivals ``h`` minutes ahead (``predict``); those with an interval give it too.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Protocol

from frontdoor.admission.forecast import Forecaster, Prediction

NO_INTERVAL = (math.nan, math.nan)


class OnlineModel(Protocol):
    name: str

    def observe(self, minute: int, count: float) -> None: ...

    def predict(self, h: int) -> Prediction: ...


class Ticketgate:
    name = "ticketgate"

    def __init__(self, timezone: str, holidays: Sequence[str] = ()) -> None:
        self.model = Forecaster(timezone, holidays=holidays)

    def observe(self, minute: int, count: float) -> None:
        self.model.observe(minute, count)

    def predict(self, h: int) -> Prediction:
        return self.model.predict(h)


class LastValue:
    name = "last value"

    def __init__(self) -> None:
        self._last = 0.0

    def observe(self, minute: int, count: float) -> None:
        self._last = count

    def predict(self, h: int) -> Prediction:
        return Prediction(self._last, *NO_INTERVAL)


class RecentMean:
    def __init__(self, k: int) -> None:
        self.name = f"mean of last {k} min"
        self._recent: deque[float] = deque(maxlen=k)
        self._sum = 0.0

    def observe(self, minute: int, count: float) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._sum -= self._recent[0]
        self._recent.append(count)
        self._sum += count

    def predict(self, h: int) -> Prediction:
        return Prediction(self._sum / len(self._recent) if self._recent else 0.0, *NO_INTERVAL)


class SeasonalNaive:
    """The same minute one period back (a day, a week)."""

    def __init__(self, period_minutes: int, label: str) -> None:
        self.name = f"seasonal naive ({label})"
        self._period = period_minutes
        self._history: deque[float] = deque(maxlen=period_minutes)

    def observe(self, minute: int, count: float) -> None:
        self._history.append(count)

    def predict(self, h: int) -> Prediction:
        if len(self._history) < self._period or h > self._period:
            return Prediction(self._history[-1] if self._history else 0.0, *NO_INTERVAL)
        return Prediction(self._history[h - 1], *NO_INTERVAL)


class TrueRate:
    """The rate the trace's Poisson counts were drawn from: no forecast can do better on average."""

    name = "noise floor (true rate)"

    def __init__(self, rates: Mapping[int, float]) -> None:
        self._rates = rates
        self._minute = 0

    def observe(self, minute: int, count: float) -> None:
        self._minute = minute

    def predict(self, h: int) -> Prediction:
        return Prediction(self._rates.get(self._minute + h, 0.0), *NO_INTERVAL)


# --- statsforecast, refitted (it has no online update) -------------------------------------------
BUCKET = 5  # minutes per aggregate: the data statsforecast's MSTL is fitted on
LEVEL = 90


class Reference:
    """statsforecast's MSTL with a daily and a weekly season on 5-minute aggregates and AutoETS on the
    rest, as its documentation's electricity-load example configures it, refitted on a trailing window.

    STL runs with R's default jumps (a tenth of each window, for the daily season: statsmodels'
    default of 1 gives the same forecasts to within 0.1 % at about 15 times the CPU)."""

    name = "statsforecast MSTL (5-min, day + week, refit)"

    def __init__(self, window_days: float) -> None:
        from statsforecast.models import MSTL, AutoETS

        day = 24 * 60 // BUCKET
        self._model = MSTL(
            season_length=[day, 7 * day],
            trend_forecaster=AutoETS(model="ZZN"),
            stl_kwargs={"seasonal_jump": 2, "trend_jump": 56, "low_pass_jump": 29},
        )
        self._day = day
        self._buckets: deque[float] = deque(maxlen=int(window_days * day))
        self._partial = 0.0
        self._in_bucket = 0
        self._fitted: list[tuple[float, float, float]] = []

    def observe(self, minute: int, count: float) -> None:
        self._partial += count
        self._in_bucket += 1
        if minute % BUCKET == BUCKET - 1:
            self._buckets.append(self._partial)
            self._partial, self._in_bucket = 0.0, 0

    def refit(self, horizon_minutes: int) -> bool:
        """Fit on the window so far (only at a bucket's end); False when too little data or not there."""
        import numpy as np

        if self._in_bucket or len(self._buckets) < 2 * self._day:
            return False
        seasons = [s for s in (self._day, 7 * self._day) if 2 * s < len(self._buckets)]
        self._model.season_length = seasons
        fitted = self._model.fit(np.asarray(self._buckets, dtype=float))
        out = fitted.predict(math.ceil(horizon_minutes / BUCKET), level=[LEVEL])
        self._fitted = [
            (max(0.0, float(m)) / BUCKET, max(0.0, float(lo)) / BUCKET, float(hi) / BUCKET)
            for m, lo, hi in zip(out["mean"], out[f"lo-{LEVEL}"], out[f"hi-{LEVEL}"], strict=True)
        ]
        return True

    def predict(self, h: int) -> Prediction:
        # The bucket holding minute h ahead; a bucket's forecast is spread evenly over its minutes.
        return Prediction(*self._fitted[(h - 1) // BUCKET])
