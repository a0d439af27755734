"""Bed placement on SQLite and PostgreSQL: which bed suits whom, the race for the last bed,
discharge → dirty → housekeeping task → cleaned → next placement, redelivery, the SLA."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import Engine, text
from tests.beds import BED_MANAGER, SITE, T0, World, ask, unit_of_work, world
from tests.concurrency import at_once

from careflow.domain.beds import AdmissionStatus, BedStatus, RequestAdmission
from careflow.domain.bookings import BookingStatus, Urgency
from careflow.domain.errors import InvalidRequest, InvalidTransition, NotFound
from careflow.domain.events import BedCleaned, PatientDischarged
from careflow.services.beds import placement
from careflow.services.beds.board import board
from careflow.services.beds.housekeeping import mark_cleaned
from careflow.services.beds.placement import raise_overdue, request_admission
from careflow.services.dispatch import drain
from careflow.services.ports import ExceptionFilter


def _bed_of(w: World, admission_id: str) -> str | None:
    return placement.get_admission(admission_id, BED_MANAGER, w.deps).bed_id


def _overlaps(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM allocation a JOIN allocation b ON a.resource_id = b.resource_id "
            "AND a.id < b.id AND a.active AND b.active AND a.start_at < b.end_at AND b.start_at < a.end_at"
        )).scalar_one())


def test_beds_are_matched_by_gender_isolation_and_unit(engine: Engine) -> None:
    w = world(engine)
    female = request_admission(ask("pf1"), BED_MANAGER, w.deps)
    male = request_admission(ask("pm1"), BED_MANAGER, w.deps)
    isolated = request_admission(ask("piso"), BED_MANAGER, w.deps)
    icu = request_admission(ask("pf2", unit="ICU", bed_type=None), BED_MANAGER, w.deps)
    # gendered rooms go to their sex first (the mixed room stays open), the isolation
    # patient takes the isolation bed, the ICU request the ICU bed
    assert (female.bed_id, male.bed_id, isolated.bed_id, icu.bed_id) == ("4w-f", "4w-m", "4w-iso", "icu-1")
    assert all(a.status is AdmissionStatus.PLACED for a in (female, male, isolated, icu))
    with w.uow() as uow:
        stay = uow.bookings.get(female.booking_id)
    assert stay is not None and stay.status is BookingStatus.BOOKED
    stay_end = T0 + timedelta(hours=48)
    assert [(a.resource_id, a.start, a.end) for a in stay.allocations] == [("4w-f", T0, stay_end)]
    assert _overlaps(engine) == 0
    with engine.connect() as conn:
        audited = "SELECT {} FROM audit_log WHERE action = '{}'"
        created = conn.execute(text(audited.format("entity_id", "service.create"))).all()
        placed = conn.execute(text(audited.format("count(*)", "admission.place"))).scalar()
    assert [r[0] for r in created] == ["svc-inpatient-stay"] and placed == 4


def test_an_isolation_bed_is_kept_for_those_who_need_one_while_another_bed_fits(engine: Engine) -> None:
    w = world(engine)
    first = request_admission(ask("pf1"), BED_MANAGER, w.deps)
    second = request_admission(ask("pf2"), BED_MANAGER, w.deps)
    third = request_admission(ask("pf3"), BED_MANAGER, w.deps)  # only the isolation bed is left
    fourth = request_admission(ask("pm1"), BED_MANAGER, w.deps)  # the male room
    assert (first.bed_id, second.bed_id, third.bed_id, fourth.bed_id) == ("4w-f", "4w-any", "4w-iso", "4w-m")
    fifth = request_admission(ask("pm2"), BED_MANAGER, w.deps)  # 4W is full
    assert fifth.status is AdmissionStatus.WAITING and fifth.bed_id is None


def test_a_woman_never_gets_a_male_room_and_an_isolation_patient_never_an_open_bed(engine: Engine) -> None:
    w = world(engine, beds=(("4w-m", "4W", "surgical", "male", False),
                            ("4w-any", "4W", "surgical", "any", False)))
    isolated = request_admission(ask("piso"), BED_MANAGER, w.deps)
    assert isolated.status is AdmissionStatus.WAITING
    taken = request_admission(ask("pf1"), BED_MANAGER, w.deps)
    assert taken.bed_id == "4w-any"
    woman = request_admission(ask("pf2"), BED_MANAGER, w.deps)
    assert woman.status is AdmissionStatus.WAITING  # the male room is free, and stays so
    with w.uow() as uow:
        misses = placement.near_misses(uow, w.deps, woman, T0)
    assert [m["bed_id"] for m in misses] == ["4w-any", "4w-m"]  # busy (frees up) before wrong room
    assert misses[0]["available_from"] == (T0 + timedelta(hours=48)).isoformat()
    assert "in a male room" in misses[1]["reasons"]


def test_bad_requests_are_refused_and_nothing_is_written(engine: Engine) -> None:
    w = world(engine)
    for bad, field in ((lambda: ask("pf1", unit=None, bed_type=None), "unit"),
                       (lambda: ask("pf1", hours=0), "los_hours"),
                       (lambda: ask("pf1", source="helicopter"), "source")):
        with pytest.raises(InvalidRequest) as caught:
            bad()
        assert caught.value.field == field
    for patient, site in (("nobody", SITE), ("pf1", "nowhere")):
        cmd = RequestAdmission(patient, site, T0, 24, None, "surgical")
        with pytest.raises(NotFound):
            request_admission(cmd, BED_MANAGER, w.deps)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM admission")).scalar_one() == 0


def test_admissions_racing_for_the_last_bed_one_gets_it_the_others_wait(engine: Engine) -> None:
    w = world(engine, beds=(("4w-any", "4W", "surgical", "any", False),))
    patients = ("pf1", "pf2", "pf3", "pm1", "pm2")
    calls = [partial(request_admission, ask(p), BED_MANAGER, w.deps) for p in patients]
    results, errors = at_once(calls)
    assert errors == []
    assert sorted(a.status.value for a in results) == ["placed", "waiting", "waiting", "waiting", "waiting"]
    assert _overlaps(engine) == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM allocation WHERE active")).scalar_one() == 1


def _discharge(w: World, bed: str, patient: str, booking: str | None, minutes: int) -> None:
    with unit_of_work(w) as uow:
        uow.publish([PatientDischarged(bed, patient, booking or "", T0 + timedelta(minutes=minutes),
                                       "ehr", f"adt-{bed}-{minutes}")])


def test_discharge_dirty_housekeeping_cleaned_then_the_most_urgent_waiting_admission(engine: Engine) -> None:
    w = world(engine, beds=(("4w-any", "4W", "surgical", "any", False),))
    first = request_admission(ask("pf1"), BED_MANAGER, w.deps)
    w.clock.advance(minutes=5)
    routine = request_admission(ask("pf2"), BED_MANAGER, w.deps)
    w.clock.advance(minutes=5)
    urgent = request_admission(ask("pm1", urgency=Urgency.URGENT), BED_MANAGER, w.deps)
    assert first.bed_id == "4w-any" and routine.bed_id is None and urgent.bed_id is None
    w.clock.advance(hours=20)
    _discharge(w, "4w-any", "pf1", first.booking_id, 20 * 60)
    dispatcher, outbox = w.dispatcher(), w.outbox()
    list(drain(dispatcher, outbox))
    with w.uow() as uow:
        stay = uow.bookings.get(first.booking_id or "")
        tasks, _ = uow.exceptions.find(ExceptionFilter(category="housekeeping"), 0, 10)
        state = w.deps.beds_of(uow).states(SITE)["4w-any"]
    assert stay is not None and stay.status is BookingStatus.FULFILLED
    assert stay.allocations[0].end == T0 + timedelta(hours=20)  # the bed is free from the discharge
    assert state.status is BedStatus.DIRTY and len(tasks) == 1 and tasks[0].owner_team == "housekeeping"
    assert tasks[0].priority == "high"  # admissions are waiting
    assert state.task_id == tasks[0].id
    # dirty: not offered even though it is free now
    assert placement.place(routine.id, w.deps).status is AdmissionStatus.WAITING
    line = next(b for u in board(SITE, BED_MANAGER, w.deps).units for b in u.beds)
    assert (line.status, line.task_id) == ("dirty", tasks[0].id)
    w.clock.advance(minutes=40)
    with unit_of_work(w) as uow:
        uow.publish([BedCleaned("4w-any", w.clock.now, "evs", "clean-1")])
    list(drain(dispatcher, outbox))
    assert _bed_of(w, urgent.id) == "4w-any" and _bed_of(w, routine.id) is None
    assert urgent.id in w.signals  # its workflow is woken through AdmissionPlaced
    with w.uow() as uow:
        task = uow.exceptions.get(tasks[0].id)
        assert task is not None and task.resolved
        assert w.deps.beds_of(uow).states(SITE)["4w-any"].status is BedStatus.CLEAN
    view = board(SITE, BED_MANAGER, w.deps)
    assert [(b.bed_id, b.status) for u in view.units for b in u.beds] == [("4w-any", "occupied")]
    assert [a.id for a in view.waiting] == [routine.id]
    assert [a.id for a in view.units[0].waiting] == [routine.id]
    assert _overlaps(engine) == 0


def test_redelivered_or_repeated_events_have_one_effect(engine: Engine) -> None:
    w = world(engine, beds=(("4w-any", "4W", "surgical", "any", False),))
    first = request_admission(ask("pf1"), BED_MANAGER, w.deps)
    waiting = request_admission(ask("pm1"), BED_MANAGER, w.deps)
    w.clock.advance(hours=10)
    _discharge(w, "4w-any", "pf1", first.booking_id, 600)
    _discharge(w, "4w-any", "pf1", None, 600)  # the same fact reported twice (without the booking)
    dispatcher, outbox = w.dispatcher(), w.outbox()
    list(drain(dispatcher, outbox))
    for event in outbox.load(list(range(1, 200))):  # at-least-once: every event again
        assert dispatcher.deliver(event).done == 0
    with w.uow() as uow:
        _, total = uow.exceptions.find(ExceptionFilter(category="housekeeping"), 0, 10)
    assert total == 1
    w.clock.advance(minutes=30)
    mark_cleaned("4w-any", None, BED_MANAGER, w.deps)
    with unit_of_work(w) as uow:  # the bed board system reports the same cleaning too
        uow.publish([BedCleaned("4w-any", w.clock.now, "evs", "clean-2")])
    list(drain(dispatcher, outbox))
    for event in outbox.load(list(range(1, 400))):
        dispatcher.deliver(event)
    with engine.connect() as conn:
        bookings = conn.execute(text("SELECT count(*) FROM booking")).scalar_one()
        cleaned = conn.execute(text(
            "SELECT count(*) FROM audit_log WHERE action = 'bed.cleaned'")).scalar_one()
    assert _bed_of(w, waiting.id) == "4w-any"
    assert (bookings, cleaned) == (2, 1)
    assert _overlaps(engine) == 0


def test_a_discharge_naming_the_wrong_booking_still_ends_the_patients_stay(engine: Engine) -> None:
    w = world(engine, beds=(("4w-any", "4W", "surgical", "any", False),))
    first = request_admission(ask("pf1"), BED_MANAGER, w.deps)
    w.clock.advance(hours=3)
    _discharge(w, "4w-any", "pf1", "bk_not_this_one", 180)
    reports = list(drain(w.dispatcher(), w.outbox()))
    assert sum(r.failed + r.dead for r in reports) == 0 and sum(r.done for r in reports) >= 1
    with w.uow() as uow:
        stay = uow.bookings.get(first.booking_id or "")
        state = w.deps.beds_of(uow).states(SITE)["4w-any"]
    assert stay is not None and stay.status is BookingStatus.FULFILLED
    assert stay.end == T0 + timedelta(hours=3) and state.status is BedStatus.DIRTY


def test_a_cleaning_reported_before_the_discharge_it_follows_leaves_the_bed_clean(engine: Engine) -> None:
    w = world(engine, beds=(("4w-any", "4W", "surgical", "any", False),))
    first = request_admission(ask("pf1"), BED_MANAGER, w.deps)
    w.clock.advance(hours=4)
    _discharge(w, "4w-any", "pf1", first.booking_id, 180)
    list(drain(w.dispatcher(), w.outbox()))
    mark_cleaned("4w-any", None, BED_MANAGER, w.deps)
    _discharge(w, "4w-any", "pf1", first.booking_id, 170)  # a late, earlier-dated second report
    list(drain(w.dispatcher(), w.outbox()))
    with w.uow() as uow:
        state = w.deps.beds_of(uow).states(SITE)["4w-any"]
        _, tasks = uow.exceptions.find(ExceptionFilter(category="housekeeping"), 0, 10)
    assert state.status is BedStatus.CLEAN and tasks == 1


def test_cancelling_a_placed_admission_gives_its_bed_to_the_next_and_a_waiting_one_stops(
        engine: Engine) -> None:
    w = world(engine, beds=(("4w-any", "4W", "surgical", "any", False),))
    first = request_admission(ask("pf1"), BED_MANAGER, w.deps)
    second = request_admission(ask("pm1"), BED_MANAGER, w.deps)
    third = request_admission(ask("pm2"), BED_MANAGER, w.deps)
    gone = placement.cancel_admission(third.id, "went to another hospital", BED_MANAGER, w.deps)
    assert gone.status is AdmissionStatus.CANCELLED
    cancelled = placement.cancel_admission(first.id, "admitted elsewhere", BED_MANAGER, w.deps)
    assert cancelled.status is AdmissionStatus.CANCELLED
    with w.uow() as uow:
        stay = uow.bookings.get(first.booking_id or "")
    assert stay is not None and stay.status is BookingStatus.CANCELLED
    assert _bed_of(w, second.id) == "4w-any" and second.id in w.signals
    assert placement.get_admission(third.id, BED_MANAGER, w.deps).bed_id is None  # cancelled: not placed
    with pytest.raises(InvalidTransition):
        placement.cancel_admission(first.id, "again", BED_MANAGER, w.deps)
    w.clock.advance(hours=1)
    _discharge(w, "4w-any", "pm1", None, 60)  # the patient arrived and stayed: now a discharge
    list(drain(w.dispatcher(), w.outbox()))
    with pytest.raises(InvalidTransition):
        placement.cancel_admission(second.id, "too late", BED_MANAGER, w.deps)
    assert _overlaps(engine) == 0


def test_an_admission_waiting_past_its_sla_goes_to_bed_management_once(engine: Engine) -> None:
    w = world(engine, beds=(("4w-any", "4W", "surgical", "any", False),))
    request_admission(ask("pf1"), BED_MANAGER, w.deps)
    waiting = request_admission(ask("pm1", urgency=Urgency.EMERGENT), BED_MANAGER, w.deps)
    assert raise_overdue(waiting.id, w.deps) is None  # within its 15 minutes
    w.clock.advance(minutes=16)
    item_id = raise_overdue(waiting.id, w.deps)
    assert item_id is not None and raise_overdue(waiting.id, w.deps) == item_id
    with w.uow() as uow:
        item = uow.exceptions.get(item_id)
    assert item is not None and (item.category, item.owner_team, item.priority) == (
        "bed_placement", "bed_management", "urgent")
    assert item.case_id == waiting.id and [a["bed_id"] for a in item.alternatives] == ["4w-any"]
    assert "pm1" not in item.summary  # ids of the admission and site only, no patient
    # the bed comes back: the placement resolves the exception
    w.clock.advance(hours=1)
    _discharge(w, "4w-any", "pf1", None, 76)
    list(drain(w.dispatcher(), w.outbox()))
    mark_cleaned("4w-any", None, BED_MANAGER, w.deps)
    with w.uow() as uow:
        item = uow.exceptions.get(item_id)
    assert _bed_of(w, waiting.id) == "4w-any"
    assert item is not None and item.resolved and item.resolution is not None
