"""Case duration: P50/P80 per procedure × surgeon, shrunk toward the procedure by credibility."""

from __future__ import annotations

import random

from tests.factories import knee_replacement

from careflow.predict.duration import CaseRecord, DurationModel, buhlmann_k, weighted_quantile

KNEE = knee_replacement()  # the card books 120 minutes


def _cases(surgeon: str, n: int, median: float, seed: int, sigma: float = 0.15) -> list[CaseRecord]:
    rng = random.Random(seed)
    return [CaseRecord("svc_knee", surgeon, round(median * rng.lognormvariate(0, sigma), 1))
            for _ in range(n)]


def _history() -> list[CaseRecord]:
    """Three surgeons near 100 minutes with 40 cases each, a slow one (160) with many or few."""
    return _cases("dr_a", 40, 100, 1) + _cases("dr_b", 40, 105, 2) + _cases("dr_c", 40, 95, 3)


def test_a_surgeon_with_few_cases_lands_near_the_procedure() -> None:
    model = DurationModel.fit(_history() + _cases("dr_slow", 2, 160, 4))
    slow = model.estimate(KNEE, "dr_slow")
    procedure = model.estimate(KNEE)
    assert slow.surgeon_cases == 2
    assert slow.surgeon_weight < 0.5
    assert abs(slow.p50 - procedure.p50) < abs(slow.p50 - 160)
    assert slow.basis == "procedure"


def test_a_surgeon_with_many_cases_lands_near_their_own_cases() -> None:
    model = DurationModel.fit(_history() + _cases("dr_slow", 200, 160, 4))
    slow = model.estimate(KNEE, "dr_slow")
    assert slow.surgeon_weight > 0.8
    assert abs(slow.p50 - 160) < 15
    assert slow.basis == "surgeon"


def test_p80_is_never_below_p50_and_the_spread_is_their_difference() -> None:
    model = DurationModel.fit(_history() + _cases("dr_slow", 7, 160, 4, sigma=0.4))
    for surgeon in (None, "dr_a", "dr_slow", "dr_unknown"):
        e = model.estimate(KNEE, surgeon)
        assert e.p80 >= e.p50
        assert e.spread == e.p80 - e.p50


def test_without_history_the_card_is_the_estimate_and_says_so() -> None:
    e = DurationModel.fit([]).estimate(KNEE, "dr_a")
    assert (e.p50, e.p80, e.spread, e.basis) == (120, 120, 0, "card")
    assert e.suggested_minutes == 120


def test_the_suggestion_is_p80_rounded_up_to_five_minutes() -> None:
    model = DurationModel.fit(_cases("dr_a", 60, 131, 5, sigma=0.05))
    e = model.estimate(KNEE, "dr_a")
    assert e.suggested_minutes % 5 == 0
    assert e.p80 <= e.suggested_minutes < e.p80 + 5


def test_k_is_large_when_surgeons_do_not_differ_and_small_when_they_do() -> None:
    alike = [[100.0, 110.0, 90.0, 105.0]] * 3
    apart = [[60.0, 62.0, 61.0], [120.0, 118.0, 121.0], [200.0, 199.0, 203.0]]
    k_alike, k_apart = buhlmann_k(alike), buhlmann_k(apart)
    assert k_alike is not None and k_apart is not None
    assert k_apart < k_alike
    assert buhlmann_k([[100.0, 110.0]]) is None  # one surgeon: not estimable, the default applies
    assert buhlmann_k([[100.0], [120.0]]) is None  # no surgeon with two cases


def test_the_version_changes_with_the_history() -> None:
    one = DurationModel.fit(_history()).version
    assert one == DurationModel.fit(_history()).version
    assert one != DurationModel.fit(_history()[1:]).version


def test_weighted_quantile_reads_the_cumulative_weight() -> None:
    points = [(10.0, 1.0), (20.0, 1.0), (30.0, 2.0)]
    assert weighted_quantile(points, 0.25) == 10.0
    assert weighted_quantile(points, 0.5) == 20.0
    assert weighted_quantile(points, 0.8) == 30.0


def test_the_model_is_refitted_for_new_master_data_or_for_new_bookings_once_it_is_five_minutes_old() -> None:
    from datetime import UTC, datetime, timedelta

    from careflow.services.predictions import ModelCache

    cache, fits = ModelCache(), []

    def fit() -> DurationModel:
        fits.append(1)
        return DurationModel.fit([])

    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    cache.duration(1, 10, t0, fit)
    cache.duration(1, 11, t0 + timedelta(minutes=1), fit)  # a booking elsewhere: still fresh
    assert len(fits) == 1
    cache.duration(1, 12, t0 + timedelta(minutes=6), fit)  # bookings moved on, the model is old
    cache.duration(2, 12, t0 + timedelta(minutes=6, seconds=1), fit)  # master data changed
    cache.duration(2, 12, t0 + timedelta(hours=5), fit)  # nothing moved: kept however old
    assert len(fits) == 3
