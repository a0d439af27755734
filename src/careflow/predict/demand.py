"""Daily volume forecasts for one series (a specialty at a site): weekday seasonality and trend.

The model is a Poisson regression (scikit-learn's ``PoissonRegressor``, a log link):

    log E[count on day t] = b0 + b1 · (t / 7) + g[weekday(t)]      (g[Monday] = 0)

so ``exp(b1)`` is the weekly growth factor and ``exp(g[d])`` the day's volume relative
to a Monday. Counts that vary more than a Poisson's (dispersion φ = Pearson χ² / (n − p)
above 1) get negative-binomial intervals with the same mean and variance φ·mean; the
interval of a day is its [(1 − level) / 2, (1 + level) / 2] quantiles. The intervals do
not widen for the uncertainty of the coefficients, which is small next to the count
noise with the months of history the service layer passes (and says so as ``method``).
With fewer than ``MIN_DAYS`` days of history the forecast is the history's mean per
weekday-less day (``method`` = ``mean``), and with none it is zero.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

__all__ = ["MIN_DAYS", "DailyCount", "DayForecast", "DemandModel", "count_quantile"]

MIN_DAYS = 14
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MODEL_NAME = "demand-poisson-1"


@dataclass(frozen=True, slots=True)
class DailyCount:
    """The volume of one local day."""

    day: date
    count: int


@dataclass(frozen=True, slots=True)
class DayForecast:
    """The expected volume of a day and its prediction interval (counts)."""

    day: date
    mean: float
    lower: int
    upper: int


def _log_pmf(k: int, mean: float, phi: float) -> float:
    if phi <= 1.0 + 1e-9:
        return k * math.log(mean) - mean - math.lgamma(k + 1)
    r = mean / (phi - 1.0)  # negative binomial: variance = mean + mean² / r = φ · mean
    p = 1.0 / phi
    return (math.lgamma(k + r) - math.lgamma(r) - math.lgamma(k + 1) + r * math.log(p)
            + k * math.log(1.0 - p))


def count_quantile(mean: float, phi: float, q: float) -> int:
    """The smallest count whose cumulative probability reaches ``q`` (Poisson when φ ≤ 1,
    else negative binomial with variance φ · mean)."""
    if mean <= 0:
        return 0
    total, k = 0.0, 0
    limit = int(mean * 20 + 100)
    while k < limit:
        total += math.exp(_log_pmf(k, mean, phi))
        if total >= q - 1e-12:
            return k
        k += 1
    return k


def _design(offsets: np.ndarray, weekdays: np.ndarray) -> np.ndarray:
    x = np.zeros((len(offsets), 7))
    x[:, 0] = offsets / 7.0
    for d in range(1, 7):
        x[:, d] = weekdays == d
    return x


@dataclass(frozen=True)
class DemandModel:
    """A fitted series: coefficients, dispersion and what it was fitted on."""

    origin: date  # day 0 of the trend
    intercept: float
    weekly_trend: float  # b1: log growth per week
    weekday_effects: tuple[float, ...]  # g[0..6], g[0] = 0
    dispersion: float
    days: int
    method: str  # "poisson", "mean" or "none"
    version: str

    @classmethod
    def fit(cls, history: Sequence[DailyCount]) -> DemandModel:
        """Fit on consecutive daily counts (missing days should be given as zeros)."""
        rows = sorted(history, key=lambda c: c.day)
        digest = hashlib.sha256(repr([(c.day.isoformat(), c.count) for c in rows]).encode()).hexdigest()[:12]
        version = f"{MODEL_NAME}:{digest}"
        if not rows:
            return cls(date.min, -math.inf, 0.0, (0.0,) * 7, 1.0, 0, "none", version)
        origin = rows[0].day
        counts = np.array([c.count for c in rows], dtype=float)
        if len(rows) < MIN_DAYS or counts.sum() == 0:
            mean = float(counts.mean())
            return cls(origin, math.log(mean) if mean > 0 else -math.inf, 0.0, (0.0,) * 7, 1.0, len(rows),
                       "mean", version)
        from sklearn.linear_model import PoissonRegressor

        offsets = np.array([(c.day - origin).days for c in rows], dtype=float)
        weekdays = np.array([c.day.weekday() for c in rows])
        x = _design(offsets, weekdays)
        reg = PoissonRegressor(alpha=1e-6, solver="newton-cholesky", max_iter=200, tol=1e-8).fit(x, counts)
        fitted = reg.predict(x)
        present = {int(d) for d in weekdays}
        params = 1 + len(present) if len(present) > 1 else 2
        pearson = float(np.sum((counts - fitted) ** 2 / np.maximum(fitted, 1e-9)))
        phi = max(1.0, pearson / max(1, len(rows) - params))
        effects = (0.0, *(float(c) for c in reg.coef_[1:]))
        return cls(origin, float(reg.intercept_), float(reg.coef_[0]), effects, phi, len(rows), "poisson",
                   version)

    def mean_on(self, day: date) -> float:
        """The expected volume of ``day``."""
        if self.method == "none" or math.isinf(self.intercept):
            return 0.0
        if self.method == "mean":
            return math.exp(self.intercept)
        t = (day - self.origin).days / 7.0
        return math.exp(self.intercept + self.weekly_trend * t + self.weekday_effects[day.weekday()])

    def forecast(self, first: date, days: int, level: float = 0.9) -> list[DayForecast]:
        """``days`` consecutive days from ``first``, each with its ``level`` interval."""
        lo_q, hi_q = (1.0 - level) / 2.0, (1.0 + level) / 2.0
        out: list[DayForecast] = []
        for i in range(days):
            day = first + timedelta(days=i)
            mean = self.mean_on(day)
            out.append(DayForecast(day, round(mean, 2), count_quantile(mean, self.dispersion, lo_q),
                                   count_quantile(mean, self.dispersion, hi_q)))
        return out

    def weekday_factors(self) -> dict[str, float]:
        """Each weekday's volume relative to a Monday's (exp of its effect)."""
        return {WEEKDAYS[d]: round(math.exp(g), 3) for d, g in enumerate(self.weekday_effects)}

    @property
    def weekly_growth(self) -> float:
        """The trend as a factor per week (1.02: 2 % more each week)."""
        return math.exp(self.weekly_trend)
