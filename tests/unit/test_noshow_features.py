"""Leakage guards: no feature of an appointment uses an outcome from its own day or a later one,
and nothing about a later day at all; same-day bookings count only when booked earlier."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from tests.noshow import SHARED, appointment, synthetic_appointments

from careflow.predict.noshow_data import prepare
from careflow.predict.noshow_features import AreaRates, build_features, facts_from_features, facts_row
from careflow.predict.ports import AppointmentFacts


def features_of(raw: pd.DataFrame) -> pd.DataFrame:
    return build_features(prepare(raw))


def flipped_from(raw: pd.DataFrame, first_day: str) -> pd.DataFrame:
    """Every outcome on ``first_day`` and later reversed."""
    out = raw.copy()
    later = out["AppointmentDay"].str[:10] >= first_day
    out.loc[later, "No-show"] = out.loc[later, "No-show"].map({"Yes": "No", "No": "Yes"})
    return out


@pytest.fixture(scope="module")
def shared_slice() -> pd.DataFrame:
    """The first six days of the shared public data (about 24,000 real appointments)."""
    if not SHARED.exists():
        pytest.skip("the shared no-show data is not on this machine")
    raw = pd.read_csv(SHARED, dtype={"PatientId": "string"})
    return raw[raw["AppointmentDay"].str[:10] <= "2016-05-06"].reset_index(drop=True)


@pytest.mark.parametrize("cut", ["2016-05-02", "2016-05-04", "2016-05-05"])
def test_reversing_every_outcome_from_a_day_on_changes_no_feature_of_that_day_or_earlier(
        shared_slice: pd.DataFrame, cut: str) -> None:
    before = features_of(shared_slice)
    after = features_of(flipped_from(shared_slice, cut))
    up_to_cut = (shared_slice["AppointmentDay"].str[:10] <= cut).to_numpy()
    pd.testing.assert_frame_equal(before[up_to_cut], after[up_to_cut])
    later = (shared_slice["AppointmentDay"].str[:10] > cut).to_numpy()
    assert not before[later].equals(after[later])  # the guard can fail: later days see the reversal


def test_removing_every_later_day_changes_no_feature_of_the_earlier_days() -> None:
    raw = synthetic_appointments(rows=2000, days=8)
    kept = raw[raw["AppointmentDay"].str[:10] <= "2016-05-06"]
    whole = features_of(raw).loc[kept.index]
    pd.testing.assert_frame_equal(whole, features_of(kept))


def test_a_same_day_appointment_booked_later_is_not_known_to_an_earlier_booking() -> None:
    rows = pd.DataFrame([
        appointment("p1", "2016-05-01T08:00:00Z", "2016-05-09", False, 1),
        appointment("p1", "2016-05-03T08:00:00Z", "2016-05-09", True, 2),
        appointment("p1", "2016-05-05T08:00:00Z", "2016-05-09", True, 3),
    ])
    whole = features_of(rows)
    assert whole["same_day_appointments"].tolist() == [1, 2, 3]
    assert whole["prior_appointments"].tolist() == [0, 0, 0]  # same-day outcomes are never history
    pd.testing.assert_frame_equal(whole.iloc[:1], features_of(rows.iloc[:1]))


def test_a_patients_history_counts_only_appointments_on_earlier_days() -> None:
    rows = pd.DataFrame([
        appointment("p1", "2016-04-20T08:00:00Z", "2016-05-02", True, 1),
        appointment("p1", "2016-04-21T08:00:00Z", "2016-05-02", False, 2),
        appointment("p1", "2016-04-22T08:00:00Z", "2016-05-04", True, 3),
        appointment("p1", "2016-05-04T09:00:00Z", "2016-05-09", None, 4),
        appointment("p2", "2016-04-22T08:00:00Z", "2016-05-04", True, 5),
    ])
    f = features_of(rows)
    assert f["prior_appointments"].tolist() == [0, 0, 2, 3, 0]
    assert f["prior_no_shows"].tolist() == [0, 0, 1, 2, 0]
    assert f["prior_no_show_rate"].iloc[3] == pytest.approx(2 / 3)
    assert math.isnan(f["days_since_last"].iloc[0]) and math.isnan(f["days_since_last"].iloc[4])
    assert f["days_since_last"].tolist()[2:4] == [2, 5]
    assert f["prior_mean_lead_days"].iloc[2] == pytest.approx((12 + 11) / 2)


def test_an_earlier_appointment_without_a_known_outcome_is_not_counted_as_history() -> None:
    rows = pd.DataFrame([
        appointment("p1", "2016-04-20T08:00:00Z", "2016-05-02", None, 1),
        appointment("p1", "2016-04-21T08:00:00Z", "2016-05-03", None, 2),
    ])
    f = features_of(rows)
    assert f["prior_appointments"].tolist() == [0, 0]
    assert f["days_since_last"].iloc[1] == 1  # that it existed is known; its outcome is not


def test_a_same_day_booking_has_lead_zero_even_when_recorded_after_midnight_utc() -> None:
    rows = pd.DataFrame([
        appointment("p1", "2016-05-02T14:00:00Z", "2016-05-02", False, 1),
        appointment("p2", "2016-05-03T01:30:00Z", "2016-05-02", False, 2),
        appointment("p3", "2016-04-25T10:00:00Z", "2016-05-02", False, 3),
    ])
    f = features_of(rows)
    assert f["lead_days"].tolist() == [0, 0, 7]
    assert f["same_day_booking"].tolist() == [1, 1, 0]


def test_an_age_of_minus_one_or_over_115_is_unknown_not_a_crash() -> None:
    rows = pd.DataFrame([appointment("p1", "2016-04-25T10:00:00Z", "2016-05-02", False, 1, age=-1),
                         appointment("p2", "2016-04-25T10:00:00Z", "2016-05-02", False, 2, age=130),
                         appointment("p3", "2016-04-25T10:00:00Z", "2016-05-02", False, 3, age=0)])
    ages = features_of(rows)["age"].tolist()
    assert math.isnan(ages[0]) and math.isnan(ages[1]) and ages[2] == 0
    facts = AppointmentFacts(lead_days=3, weekday=0, hour_booked=9, reminder_sent=False, age=-1, area="X")
    assert math.isnan(facts_row(facts, AreaRates({}, 0.2))[5])


def test_the_area_rate_in_training_comes_only_from_earlier_days() -> None:
    rows = pd.DataFrame([
        appointment("p1", "2016-04-20T08:00:00Z", "2016-05-02", True, 1, area="A"),
        appointment("p2", "2016-04-20T08:00:00Z", "2016-05-02", False, 2, area="B"),
        appointment("p3", "2016-04-20T08:00:00Z", "2016-05-03", True, 3, area="A"),
        appointment("p4", "2016-04-20T08:00:00Z", "2016-05-04", False, 4, area="A"),
    ])
    rate = features_of(rows)["area_no_show_rate"].tolist()
    assert math.isnan(rate[0]) and math.isnan(rate[1])  # nothing is known before the first day
    assert rate[2] == pytest.approx((1 + 50 * 0.5) / (1 + 50))
    assert rate[3] == pytest.approx((2 + 50 * (2 / 3)) / (2 + 50))


def test_the_single_prediction_path_builds_the_same_inputs_as_the_table_path() -> None:
    frame = prepare(synthetic_appointments(rows=400, days=6))
    areas = AreaRates.of(frame)
    table = build_features(frame, areas)
    for facts, expected in zip(facts_from_features(frame, table), table.to_numpy(), strict=True):
        np.testing.assert_array_equal(np.array(facts_row(facts, areas)), expected)
