"""Overbooking advice: the Poisson-binomial risk, the policy's caps, opt-outs and the drivers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tests.factories import CASE_DAY, MAIN, block, consult, local, option, patient
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.domain.access import SYSTEM, Actor
from careflow.domain.calendars import ExceptionKind
from careflow.domain.commands import BookOption
from careflow.domain.errors import Conflict, InvalidRequest, PermissionDenied
from careflow.domain.health_system import HealthSystem
from careflow.domain.resources import Resource
from careflow.predict.fake import FakeNoShowPredictor
from careflow.predict.overbooking import (
    BookedPatient,
    OverbookingPolicy,
    Session,
    advise,
    overflow_probability,
)
from careflow.services.booking import BookingDeps, book_option
from careflow.services.catalogs import CatalogCache
from careflow.services.ports import Versioned
from careflow.services.predictions import (
    PredictionDeps,
    apply_overbooking,
    overbooking_advice,
    set_overbooking_policy,
)
from careflow.services.site_settings import SiteSetting

SESSION = Session("dr_a", "site_main", "2026-06-03", datetime(2026, 6, 3, 13, tzinfo=UTC),
                  datetime(2026, 6, 3, 17, tzinfo=UTC), capacity=10)
WIDE = OverbookingPolicy(max_per_session=10, risk_tolerance=0.1)


def _booked(*risks: float) -> list[BookedPatient]:
    return [BookedPatient(f"bk_{i:02d}", p, (("lead_days", 0.6),)) for i, p in enumerate(risks)]


def test_overflow_probability_is_the_poisson_binomial_tail() -> None:
    assert overflow_probability([1.0, 1.0, 1.0], 2) == pytest.approx(1.0)
    assert overflow_probability([0.5, 0.5], 1) == pytest.approx(0.25)
    assert overflow_probability([0.5, 0.5], 2) == 0.0


def test_a_full_session_with_likely_no_shows_is_advised_overbooks_within_the_risk() -> None:
    advice = advise(SESSION, _booked(*[0.3] * 10), WIDE,
                    "fake")
    assert advice.extra >= 1
    assert advice.bound == "risk"
    assert advice.overflow_risk <= 0.1
    more = advise(SESSION, _booked(*[0.3] * 10), replace(WIDE, risk_tolerance=0.3), "fake")
    assert more.extra > advice.extra  # a higher tolerance allows more


def test_patients_who_always_come_get_no_overbooks() -> None:
    advice = advise(SESSION, _booked(*[0.0] * 10), OverbookingPolicy(max_per_session=5), "fake")
    assert (advice.extra, advice.bound) == (0, "risk")


def test_the_site_maximum_caps_the_advice_and_says_so() -> None:
    advice = advise(SESSION, _booked(*[0.5] * 10), OverbookingPolicy(max_per_session=1, risk_tolerance=0.2),
                    "fake")
    assert advice.recommended_by_risk > 1
    assert (advice.extra, advice.bound) == (1, "max_per_session")
    assert "maximum per session" in advice.explanation()


def test_a_clinician_who_opted_out_gets_none() -> None:
    policy = OverbookingPolicy(max_per_session=3, clinicians_opted_out=frozenset({"dr_a"}))
    advice = advise(SESSION, _booked(*[0.5] * 10), policy, "fake")
    assert advice.recommended_by_risk > 0
    assert (advice.extra, advice.bound) == (0, "opted_out")
    assert "opt-out" in advice.explanation()


def test_the_explanation_names_the_patients_who_drive_the_expected_no_shows() -> None:
    risks = [0.05] * 8 + [0.7, 0.6]
    advice = advise(SESSION, _booked(*risks), OverbookingPolicy(), "noshow-fake-1")
    assert advice.expected_no_shows == pytest.approx(sum(risks))
    assert [d.booking_id for d in advice.drivers[:2]] == ["bk_08", "bk_09"]
    text = advice.explanation()
    assert "bk_08 70%" in text and "bk_09 60%" in text and "noshow-fake-1" in text


def test_free_seats_are_filled_first() -> None:
    half = advise(SESSION, _booked(*[0.3] * 5), WIDE, "f")
    full = advise(SESSION, _booked(*[0.3] * 10), WIDE, "f")
    assert half.extra == full.extra  # five free seats at the same risk: the same overbooks on top


def test_a_declining_predictor_advises_nothing_and_explains_why() -> None:
    advice = advise(SESSION, _booked(0.3), OverbookingPolicy(), "observed-rate", declined="only 3 finished")
    assert (advice.extra, advice.bound) == (0, "predictor")
    assert "only 3 finished" in advice.explanation()


def test_the_advice_id_is_stable_for_the_same_inputs_and_changes_with_them() -> None:
    one = advise(SESSION, _booked(0.3, 0.2), OverbookingPolicy(), "fake").id
    assert one == advise(SESSION, _booked(0.3, 0.2), OverbookingPolicy(), "fake").id
    assert one != advise(SESSION, _booked(0.3, 0.25), OverbookingPolicy(), "fake").id


@pytest.mark.parametrize("value", [{"mode": "auto"}, {"max_per_session": -1}, {"max_per_session": "2"},
                                   {"risk_tolerance": 0.9}, {"clinicians_opted_out": "dr_a"},
                                   {"colour": "red"}])
def test_a_bad_policy_is_refused_naming_the_field(value: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest) as err:
        OverbookingPolicy.of(value)
    assert err.value.field == next(iter(value))


def test_a_policy_survives_its_stored_form() -> None:
    policy = OverbookingPolicy("executable", 3, 0.05, frozenset({"dr_b", "dr_a"}))
    assert OverbookingPolicy.of(policy.to_value()) == policy


# --- advisory and executable, through the use cases over the fake stores ----------------


class _Settings:
    """Site settings in memory (the SQL store's contract: optimistic on version)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], SiteSetting] = {}

    def get(self, site_id: str, name: str, *, lock: bool = False) -> SiteSetting | None:
        return self.rows.get((site_id, name))

    def named(self, name: str) -> list[SiteSetting]:
        return [s for (_, n), s in sorted(self.rows.items()) if n == name]

    def put(self, setting: SiteSetting, expected_version: int | None) -> None:
        self.rows[(setting.site_id, setting.name)] = setting


class _Admin:
    """The two admin-store calls applying overbooking makes, over the fake state."""

    def __init__(self, uow: Any) -> None:
        self.state = uow.state

    def get(self, kind: str, key: tuple[str, ...], *, lock: bool = False) -> Versioned | None:
        found = self.state.of(Resource).get(key[0])
        return Versioned(found, "") if found is not None else None

    def update(self, kind: str, item: Resource) -> Versioned:
        self.state.of(Resource)[item.id] = item
        return Versioned(item, "")

    def bump_version(self) -> int:
        self.state.version += 1
        return int(self.state.version)


@pytest.fixture
def session_deps(system: HealthSystem, clock: FixedClock) -> tuple[BookingDeps, PredictionDeps]:
    """dr_bone seeing four 30-minute consults from 13:00 to 15:00, all booked three weeks ahead."""
    bone = next(r for r in system.resources if r.id == "dr_bone")
    system.resources[system.resources.index(bone)] = replace(
        bone, availability=replace(bone.availability, blocks=(block("13:00", "15:00"),)))
    system.patients.extend([patient("pt_4"), patient("pt_5")])
    store = FakeUnitOfWorkFactory.of(system)
    booking = BookingDeps(store, CatalogCache(), clock)
    settings = _Settings()
    deps = PredictionDeps(store, booking.catalogs, clock, lambda uow: settings, noshow=FakeNoShowPredictor(),
                          admin=_Admin)  # type: ignore[arg-type]
    now = clock()
    clock.set(now - timedelta(days=20))
    for who, hhmm in (("pt_1", "13:00"), ("pt_2", "13:30"), ("pt_4", "14:00"), ("pt_5", "14:30")):
        book_option(BookOption(option(consult(), local(CASE_DAY, hhmm), patient_id=who), SYSTEM), booking)
    clock.set(now)
    return booking, deps


def _extra_lanes(booking: BookingDeps) -> list[int | None]:
    with booking.uow() as uow:
        bone = uow.master.load_catalog().resource("dr_bone")
    return [e.capacity_delta for e in bone.availability.exceptions if e.kind is ExceptionKind.EXTRA]


def test_advisory_advice_is_shown_and_never_applied(session_deps: tuple[BookingDeps, PredictionDeps]) -> None:
    booking, deps = session_deps
    set_overbooking_policy(deps, SYSTEM, MAIN, {"risk_tolerance": 0.5}, "clinic committee")
    [advice] = overbooking_advice(deps, SYSTEM, MAIN, date.fromisoformat(CASE_DAY)).advice
    assert (advice.mode, advice.session.capacity, advice.booked) == ("advisory", 4, 4)
    assert advice.extra == 1
    with pytest.raises(Conflict, match="advisory"):
        apply_overbooking(deps, SYSTEM, MAIN, date.fromisoformat(CASE_DAY))
    assert _extra_lanes(booking) == []


def test_executable_advice_is_applied_as_extra_lanes_on_the_clinician(
        session_deps: tuple[BookingDeps, PredictionDeps]) -> None:
    booking, deps = session_deps
    set_overbooking_policy(deps, SYSTEM, MAIN, {"mode": "executable", "risk_tolerance": 0.5}, "pilot")
    [applied] = apply_overbooking(deps, SYSTEM, MAIN, date.fromisoformat(CASE_DAY))
    assert (applied.clinician_id, applied.lanes_before, applied.lanes) == ("dr_bone", 0, 1)
    assert _extra_lanes(booking) == [1]
    assert apply_overbooking(deps, SYSTEM, MAIN, date.fromisoformat(CASE_DAY)) == []  # already applied


def test_changing_the_policy_needs_predict_configure(
        session_deps: tuple[BookingDeps, PredictionDeps]) -> None:
    _, deps = session_deps
    scheduler = Actor("s", frozenset({"scheduler"}))
    with pytest.raises(PermissionDenied):
        set_overbooking_policy(deps, scheduler, MAIN, {"mode": "executable"}, "mine")


def test_only_the_likeliest_no_shows_are_explained() -> None:
    from careflow.predict.overbooking import score_patients
    from careflow.predict.ports import AppointmentFacts

    facts = {f"bk_{i}": AppointmentFacts(lead_days=i * 5, weekday=1, hour_booked=9, reminder_sent=False,
                                         age=40, area="") for i in range(6)}
    scored = {b.booking_id: b for b in score_patients(FakeNoShowPredictor(), facts)}
    explained = sorted(b for b, s in scored.items() if s.reasons)
    assert len(scored) == 6 and len(explained) == 3
    assert min(scored[b].no_show for b in explained) >= max(s.no_show for b, s in scored.items()
                                                          if b not in explained)


def test_the_maximum_counts_the_overbooks_already_booked() -> None:
    policy = OverbookingPolicy(max_per_session=2, risk_tolerance=0.5)
    already = advise(SESSION, _booked(*[0.6] * 11), policy, "fake")  # one overbook booked already
    assert already.recommended_by_risk > 1
    assert (already.extra, already.bound) == (1, "max_per_session")
    full = advise(SESSION, _booked(*[0.6] * 12), policy, "fake")
    assert (full.extra, full.bound) == (0, "max_per_session")
