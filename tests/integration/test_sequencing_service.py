"""Day-of-surgery sequencing on SQLite and PostgreSQL: the local day read from the store,
a proposal applied through reschedule (a swap included), audited, never double-booking."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from tests.factories import block, clinician, equipment, extra, local, option, patient, room, site, staff_pool
from tests.fakes import FixedClock

from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.tables import audit_log
from careflow.adapters.db.uow import SqlUnitOfWorkFactory
from careflow.bootstrap import bootstrap
from careflow.config import load_settings
from careflow.domain.access import Actor
from careflow.domain.commands import BookOption, RescheduleBooking
from careflow.domain.errors import InvalidRequest, PermissionDenied
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import PatientId, ResourceId, ServiceId
from careflow.domain.preference_cards import (
    EquipmentRequirement,
    RoleRequirement,
    RoomRequirement,
    Service,
    ServiceKind,
    StaffRequirement,
)
from careflow.domain.timespans import Span, to_ts
from careflow.planning.sequencing_problem import Weights
from careflow.services import booking, sequencing
from careflow.services.booking import BookingDeps

NY = ZoneInfo("America/New_York")
DAY = "2026-06-03"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=NY)
COORDINATOR = Actor("coord-1", frozenset({"perioperative_coordinator"}))
VIEWER = Actor("viewer-1", frozenset({"operations_viewer"}))
SCOPE = Service(ServiceId("svc_scope"), "SCOPE", "Arthroscopy", ServiceKind.SURGERY, 60, None, 15, 15,
                roles=(RoleRequirement("surgeon", "surgeon", credentials=frozenset()),),
                staff=(StaffRequirement("anesthesia"),), room=RoomRequirement("operating"),
                equipment=(EquipmentRequirement("c_arm"),))
CHILD_FIRST = Weights(priority_late_minute=10)


def _system() -> HealthSystem:
    hours = (block("07:00", "17:00"),)
    return HealthSystem(
        "sequencing", [site()],
        [room("or_1", blocks=hours), room("or_2", blocks=hours), clinician("dr_bone"), clinician("dr_cut"),
         staff_pool("anesthesia", role="anesthesia", headcount=2),
         equipment("c_arm_1", sterilization_minutes=15)],
        [SCOPE], [],
        [patient("p1"), patient("p2"), replace(patient("kid"), birth_date=date(2018, 5, 5))])


@pytest.fixture
def deps(engine: Engine) -> BookingDeps:
    load_health_system(engine, _system(), replace=True)
    settings = load_settings(database_url="sqlite://", environment="test")
    return bootstrap(settings, uow=SqlUnitOfWorkFactory(engine), clock=FixedClock(NOW)).deps


def _book(deps: BookingDeps, who: str, hhmm: str, room_id: str = "or_1", surgeon: str = "dr_bone") -> str:
    chosen = option(SCOPE, local(DAY, hhmm), patient_id=who, room=room_id, surgeon=surgeon,
                    anesthesia="anesthesia", c_arm="c_arm_1")
    return booking.book_option(BookOption(chosen, COORDINATOR), deps).id


def _request(**kw: object) -> sequencing.SequenceRequest:
    return sequencing.SequenceRequest("site_main", date.fromisoformat(DAY), 10.0, 1, **kw)  # type: ignore[arg-type]


def _audits(engine: Engine, action: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)
                                .where(audit_log.c.action == action)).scalar_one())


def _room_spans(deps: BookingDeps, room_id: str) -> list[Span]:
    lo = int(local(DAY, "00:00").timestamp())
    with deps.uow() as uow:
        busy = uow.bookings.busy([ResourceId(room_id)], (lo, lo + 86400))
    return sorted((b.start, b.end) for b in busy[ResourceId(room_id)])


def test_a_child_booked_second_is_proposed_first_in_moves_the_core_applies_one_by_one(
        engine: Engine, deps: BookingDeps) -> None:
    adult = _book(deps, "p1", "07:15")
    child = _book(deps, "kid", "08:45")
    proposal = sequencing.propose(deps, COORDINATOR, _request(weights=CHILD_FIRST))
    plans = {c.booking_id: c for c in proposal.result.cases}
    assert plans[child].order == 1 and plans[adult].start >= int(local(DAY, "10:15").timestamp())
    report = sequencing.apply(deps, COORDINATOR, proposal, "children first")
    assert report.refused == () and report.interim == ()
    assert [a.booking_id for a in report.applied] == [adult, child], "the adult clears the way first"
    assert _audits(engine, "reschedule") == 2


def test_a_swap_when_allowed_is_applied_by_parking_one_case_on_the_way(
        engine: Engine, deps: BookingDeps) -> None:
    adult = _book(deps, "p1", "07:15")
    child = _book(deps, "kid", "08:45")
    proposal = sequencing.propose(deps, COORDINATOR, _request(weights=CHILD_FIRST, allow_swaps=True))
    plans = {c.booking_id: c for c in proposal.result.cases}
    assert plans[child].order == 1 and plans[child].start == int(local(DAY, "07:15").timestamp())
    assert "priority (child): starts earlier" in plans[child].reasons
    report = sequencing.apply(deps, COORDINATOR, proposal, "children first")
    assert report.refused == ()
    assert {a.booking_id for a in report.applied} == {adult, child}
    assert report.interim, "a swap needs one case parked on the way"
    with deps.uow() as uow:
        moved_child, moved_adult = uow.bookings.get(child), uow.bookings.get(adult)
    assert moved_child is not None and moved_adult is not None
    assert moved_child.start == local(DAY, "07:15")
    assert int(moved_adult.start.timestamp()) == plans[adult].start
    spans = _room_spans(deps, "or_1")
    assert len(spans) == 2 and spans[0][1] <= spans[1][0], "never two cases in the room at once"
    assert _audits(engine, "reschedule") == 2 + len(report.interim)
    assert _audits(engine, "plan.sequence.apply") == 1
    assert _audits(engine, "plan.sequence") == 1
    again = sequencing.propose(deps, COORDINATOR, _request(weights=CHILD_FIRST))
    assert again.result.moved == ()


def test_a_day_that_keeps_every_rule_is_left_as_booked_with_the_c_arm_and_its_reprocessing_read(
        deps: BookingDeps) -> None:
    first = _book(deps, "p1", "08:00", "or_1", "dr_bone")
    second = _book(deps, "p2", "09:15", "or_2", "dr_cut")
    proposal = sequencing.propose(deps, COORDINATOR, _request())
    assert proposal.result.moved == ()
    kinds = {s.id: s.kind.value for s in proposal.problem.shared}
    assert kinds == {"dr_bone": "surgeon", "dr_cut": "surgeon", "anesthesia": "anesthesia",
                     "c_arm_1": "equipment"}
    carm = proposal.problem.resource("c_arm_1")
    assert carm.tail == 15 * 60
    assert {c.booking_id for c in proposal.result.cases} == {first, second}


def test_a_booking_changed_after_the_proposal_is_refused_and_left_alone(deps: BookingDeps) -> None:
    _book(deps, "p1", "07:15")
    child = _book(deps, "kid", "08:45")
    proposal = sequencing.propose(deps, COORDINATOR, _request(weights=CHILD_FIRST))
    elsewhere = option(SCOPE, local(DAY, "13:00"), patient_id="kid", room="or_2", surgeon="dr_cut",
                       anesthesia="anesthesia", c_arm="c_arm_1")
    booking.reschedule(RescheduleBooking(child, elsewhere, "family asked", COORDINATOR), deps)
    report = sequencing.apply(deps, COORDINATOR, proposal, "children first")
    assert [(r.booking_id, r.codes) for r in report.refused] == [(child, ("CHANGED_SINCE_PROPOSED",))]
    with deps.uow() as uow:
        kept = uow.bookings.get(child)
    assert kept is not None and kept.start == local(DAY, "13:00")


def test_a_viewer_may_see_the_proposal_but_not_apply_it(engine: Engine, deps: BookingDeps) -> None:
    _book(deps, "p1", "07:15")
    _book(deps, "kid", "08:45")
    proposal = sequencing.propose(deps, VIEWER, _request(weights=CHILD_FIRST))
    assert proposal.result.moved
    with pytest.raises(PermissionDenied):
        sequencing.apply(deps, VIEWER, proposal, "children first")
    assert _audits(engine, "reschedule") == 0


def test_a_proposal_with_a_supervision_ratio_is_advice_the_core_cannot_apply(
        engine: Engine, deps: BookingDeps) -> None:
    _book(deps, "p1", "07:15")
    _book(deps, "kid", "08:45")
    proposal = sequencing.propose(deps, COORDINATOR, _request(weights=CHILD_FIRST, anesthesia_ratio=2))
    assert proposal.result.moved
    with pytest.raises(InvalidRequest) as refused:
        sequencing.apply(deps, COORDINATOR, proposal, "children first")
    assert refused.value.field == "anesthesia_ratio"
    assert _audits(engine, "reschedule") == 0


def test_a_case_running_past_midnight_holds_its_room_into_the_day_which_is_still_sequenced(
        engine: Engine) -> None:
    night = (extra(local("2026-06-02", "20:00"), local(DAY, "03:00")),)
    hours = (block("07:00", "17:00"),)
    system = HealthSystem(
        "sequencing", [site()],
        [room("or_1", blocks=hours, exceptions=night), clinician("dr_bone", exceptions=night),
         staff_pool("anesthesia", role="anesthesia", headcount=2, exceptions=night),
         equipment("c_arm_1", sterilization_minutes=15, exceptions=night)],
        [SCOPE], [], [patient("p1"), patient("p2")])
    load_health_system(engine, system, replace=True)
    settings = load_settings(database_url="sqlite://", environment="test")
    deps = bootstrap(settings, uow=SqlUnitOfWorkFactory(engine), clock=FixedClock(NOW)).deps
    late = option(SCOPE, local("2026-06-02", "23:30"), patient_id="p1", room="or_1", surgeon="dr_bone",
                  anesthesia="anesthesia", c_arm="c_arm_1")
    overnight = booking.book_option(BookOption(late, COORDINATOR), deps).id
    today = _book(deps, "p2", "07:15")
    proposal = sequencing.propose(deps, COORDINATOR, _request())
    assert proposal.result.has_proposal, proposal.result.explanation
    assert [c.booking_id for c in proposal.result.cases] == [today]
    or_1 = next(r for r in proposal.problem.rooms if r.id == "or_1")
    assert [(f.what, f.span[1]) for f in or_1.fixed] == [(overnight, to_ts(local(DAY, "00:45")))]


def test_the_local_day_is_read_midnight_to_midnight_across_the_daylight_saving_change(
        engine: Engine) -> None:
    load_health_system(engine, _system(), replace=True)
    settings = load_settings(database_url="sqlite://", environment="test")
    clock = FixedClock(NOW + timedelta(days=120))
    deps = bootstrap(settings, uow=SqlUnitOfWorkFactory(engine), clock=clock).deps
    fall_back = date(2026, 11, 1)  # 25 hours in New York
    for who, when in (("p1", datetime.combine(fall_back, time(7, 15), tzinfo=NY)),
                      ("p2", datetime.combine(fall_back, time(15, 0), tzinfo=NY)),
                      ("kid", datetime.combine(fall_back + timedelta(days=1), time(7, 15), tzinfo=NY))):
        chosen = option(SCOPE, when, patient_id=who, room="or_1", surgeon="dr_bone", anesthesia="anesthesia",
                        c_arm="c_arm_1")
        booking.book_option(BookOption(chosen, COORDINATOR), deps)
    proposal = sequencing.propose(deps, COORDINATOR, sequencing.SequenceRequest("site_main", fall_back, 5.0))
    assert proposal.problem.origin == int(datetime.combine(fall_back, time(0), tzinfo=NY).timestamp())
    assert sorted(c.patient_id for c in proposal.result.cases) == [PatientId("p1"), PatientId("p2")]
    room_day = proposal.problem.room("or_1")
    assert room_day.open == ((int(datetime.combine(fall_back, time(7), tzinfo=NY).timestamp()),
                              int(datetime.combine(fall_back, time(17), tzinfo=NY).timestamp())),)
