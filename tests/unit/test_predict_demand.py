"""Daily demand: a Poisson regression recovers weekday seasonality and trend; intervals cover."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
from tests.factories import knee_replacement

from careflow.predict.demand import DailyCount, DayForecast, DemandModel, count_quantile
from careflow.predict.shift_demand import SHIFTS, shift_demand, shift_of

START = date(2026, 1, 5)  # a Monday
FACTORS = (1.0, 1.2, 1.1, 1.0, 0.8, 0.3, 0.1)  # Monday … Sunday
GROWTH = 1.03  # per week


def _series(weeks: int, seed: int, base: float = 20.0) -> tuple[list[DailyCount], np.random.Generator]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(weeks * 7):
        day = START + timedelta(days=i)
        mean = base * GROWTH ** (i / 7) * FACTORS[day.weekday()]
        out.append(DailyCount(day, int(rng.poisson(mean))))
    return out, rng


def test_recovers_the_weekday_pattern_and_the_trend() -> None:
    history, _ = _series(20, 1)
    model = DemandModel.fit(history)
    assert model.method == "poisson"
    factors = model.weekday_factors()
    for name, truth in zip(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), FACTORS, strict=True):
        assert abs(factors[name] - truth) < 0.15 * truth + 0.05, (name, factors[name], truth)
    assert abs(model.weekly_growth - GROWTH) < 0.01


def test_ninety_percent_intervals_cover_about_ninety_percent_of_future_days() -> None:
    covered = total = 0
    for seed in range(5):
        history, rng = _series(16, seed)
        model = DemandModel.fit(history)
        first = history[-1].day + timedelta(days=1)
        for i, f in enumerate(model.forecast(first, 28, level=0.9)):
            t = 16 * 7 + i
            actual = rng.poisson(20.0 * GROWTH ** (t / 7) * FACTORS[f.day.weekday()])
            covered += f.lower <= actual <= f.upper
            total += 1
    assert 0.82 <= covered / total <= 0.99


def test_overdispersed_counts_get_wider_intervals() -> None:
    assert count_quantile(20.0, 3.0, 0.95) > count_quantile(20.0, 1.0, 0.95)
    assert count_quantile(20.0, 3.0, 0.05) < count_quantile(20.0, 1.0, 0.05)
    assert count_quantile(0.0, 1.0, 0.95) == 0


def test_short_history_falls_back_to_its_mean_and_no_history_to_zero() -> None:
    short = [DailyCount(START + timedelta(days=i), 4) for i in range(5)]
    model = DemandModel.fit(short)
    assert model.method == "mean"
    assert math.isclose(model.mean_on(START + timedelta(days=30)), 4.0)
    empty = DemandModel.fit([])
    assert empty.method == "none"
    assert empty.forecast(START, 2) == [DayForecast(START, 0.0, 0, 0),
                                        DayForecast(START + timedelta(days=1), 0.0, 0, 0)]


def test_staff_hours_per_shift_follow_the_cards_roles_and_the_forecast() -> None:
    knee = knee_replacement()  # 120 min: a surgeon, an anesthesiologist, a pre-op nurse
    forecast = [DayForecast(START, 4.0, 2, 6)]
    rows = shift_demand(forecast, {"svc_knee": 1.0}, {"day": 0.75, "evening": 0.25},
                        {"svc_knee": knee})
    by = {(r.shift, r.role): r for r in rows}
    assert by[("day", "surgeon")].hours == 4.0 * 0.75 * 2.0  # 3 cases of 2 hours
    assert by[("day", "preop_nurse")].hours_upper == 6 * 0.75 * 2.0
    assert by[("day", "surgeon")].staff == math.ceil(9.0 / 8.0)
    assert ("night", "surgeon") not in by


def test_a_local_time_falls_in_exactly_one_shift() -> None:
    from datetime import time
    assert shift_of(time(7)) == "day"
    assert shift_of(time(22, 59)) == "evening"
    assert shift_of(time(2)) == "night"
    assert sum(s.hours for s in SHIFTS) == 24


def test_a_weekday_the_site_is_closed_is_forecast_as_closed() -> None:
    weekdays_only = [DailyCount(START + timedelta(days=i), 0 if (START + timedelta(days=i)).weekday() >= 5
                                else 10 + i % 3) for i in range(56)]
    model = DemandModel.fit(weekdays_only)
    saturday, monday = START + timedelta(days=61), START + timedelta(days=63)
    [sat, _, mon] = model.forecast(saturday, 3)
    assert (sat.mean, sat.upper) == (0.0, 0) and monday == mon.day and 8 < mon.mean < 14
