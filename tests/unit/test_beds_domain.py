"""Bed placement's pure rules: which bed can take whom, how suitable beds rank, who is next."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from careflow.domain.beds import (
    Admission,
    AdmissionStatus,
    RequestAdmission,
    mismatches,
    penalty,
    waiting_order,
)
from careflow.domain.bookings import Urgency
from careflow.domain.errors import InvalidRequest, InvalidTransition
from careflow.domain.ids import PatientId, ResourceId, SiteId
from careflow.domain.patients import Patient
from careflow.domain.resources import BedProfile, Resource, ResourceKind

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def bed(gender: str = "any", isolation: bool = False, unit: str = "4W", kind: str = "surgical",
        site: str = "h1") -> Resource:
    return Resource(ResourceId(f"b-{gender}-{isolation}"), SiteId(site), ResourceKind.BED, "bed",
                    BedProfile(unit, kind, gender, isolation))


def patient(sex: str = "female", isolation: bool = False) -> Patient:
    return Patient(PatientId("p1"), "MRN-1", "Synthetic", date(1980, 1, 1), sex, isolation_required=isolation)


def admission(unit: str | None = None, bed_type: str | None = "surgical", isolation: bool = False,
              urgency: Urgency = Urgency.ROUTINE, at: datetime = T0, wanted: datetime = T0) -> Admission:
    cmd = RequestAdmission("p1", "h1", wanted, 48, unit, bed_type, isolation, urgency, "ed")
    return Admission.requested(f"adm-{urgency.value}-{at.minute}", cmd, at, "bm1")


def test_a_room_of_the_other_sex_is_refused_and_a_mixed_or_own_room_is_not() -> None:
    assert mismatches(bed("male"), admission(), patient("female")) == ["in a male room"]
    assert mismatches(bed("female"), admission(), patient("female")) == []
    assert mismatches(bed("any"), admission(), patient("male")) == []


def test_isolation_from_the_record_or_the_request_needs_an_isolation_bed() -> None:
    assert mismatches(bed(), admission(), patient(isolation=True)) == ["cannot isolate"]
    assert mismatches(bed(), admission(isolation=True), patient()) == ["cannot isolate"]
    assert mismatches(bed(isolation=True), admission(isolation=True), patient()) == []


def test_unit_type_and_site_must_match_what_was_asked() -> None:
    assert mismatches(bed(unit="ICU", kind="icu"), admission(), patient()) == ["a icu bed, not surgical"]
    by_unit = admission(unit="4W", bed_type=None)
    assert mismatches(bed(unit="5E"), by_unit, patient()) == ["in unit 5E, not 4W"]
    assert mismatches(bed(site="h2"), admission(), patient()) == ["at h2, not h1"]


def test_an_isolation_bed_for_someone_without_the_need_costs_most() -> None:
    plain, gendered, iso = bed("any"), bed("female"), bed("any", isolation=True)
    who, adm = patient("female"), admission()
    assert sorted([plain, gendered, iso], key=lambda b: penalty(b, adm, who)) == [gendered, plain, iso]
    assert penalty(iso, admission(isolation=True), who) < penalty(plain, adm, who) + 100


def test_the_most_urgent_then_the_longest_waiting_comes_first() -> None:
    old_routine = admission(urgency=Urgency.ROUTINE, at=T0)
    new_urgent = admission(urgency=Urgency.URGENT, at=T0 + timedelta(minutes=30))
    old_urgent = admission(urgency=Urgency.URGENT, at=T0 + timedelta(minutes=5))
    emergent = admission(urgency=Urgency.EMERGENT, at=T0 + timedelta(minutes=50))
    ordered = sorted([old_routine, new_urgent, old_urgent, emergent], key=waiting_order)
    assert ordered == [emergent, old_urgent, new_urgent, old_routine]


def test_the_stay_starts_when_wanted_or_now_and_the_sla_follows_the_urgency() -> None:
    later = admission(wanted=T0 + timedelta(days=1))
    assert later.stay(T0) == (T0 + timedelta(days=1), T0 + timedelta(days=3))
    assert admission().stay(T0 + timedelta(hours=1)) == (T0 + timedelta(hours=1), T0 + timedelta(hours=49))
    assert admission(urgency=Urgency.EMERGENT).sla_due_at == T0 + timedelta(minutes=15)
    assert admission().sla_due_at == T0 + timedelta(minutes=120)


def test_a_placed_admission_cannot_be_placed_again() -> None:
    adm = admission()
    adm.place("b1", "bk1", T0)
    assert (adm.status, adm.bed_id, adm.version) == (AdmissionStatus.PLACED, "b1", 2)
    assert [e.name for e in adm.events] == ["AdmissionRequested", "AdmissionPlaced"]
    with pytest.raises(InvalidTransition):
        adm.place("b2", "bk2", T0)


@pytest.mark.parametrize(("change", "field"), [
    ({"unit": None, "bed_type": None}, "unit"), ({"los_hours": 0}, "los_hours"),
    ({"los_hours": 24 * 91}, "los_hours"), ({"source": "walk-in"}, "source"),
    ({"unit": "4W\n"}, "unit"), ({"wanted_from": datetime(2026, 6, 1, 12)}, "wanted_from")])
def test_a_malformed_request_names_the_field(change: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"patient_id": "p1", "site_id": "h1", "wanted_from": T0, "los_hours": 24,
                               "unit": "4W", "bed_type": None, **change}
    with pytest.raises(InvalidRequest) as caught:
        RequestAdmission(**args)  # type: ignore[arg-type]
    assert caught.value.field == field
