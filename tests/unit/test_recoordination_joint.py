"""Re-coordination's joint path: a call-out that displaces several bookings re-plans them at once,
and places a booking that fixing them one by one would strand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.factories import CASE_DAY, block, clinician, closed, consult, local, option, room
from tests.fakes import FakeNotifier, FakeUnitOfWorkFactory

from careflow.domain.access import Actor
from careflow.domain.commands import BookOption
from careflow.domain.preference_cards import RoleRequirement
from careflow.services.booking import BookingDeps, book_option
from careflow.services.ports import UnitOfWork
from careflow.services.recoordination import (
    AUTO,
    JOINT,
    QUEUED,
    Outcome,
    Policy,
    RecoordinationDeps,
    RunReport,
    Trigger,
    recoordinate,
)

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
# Only privileged surgeons may see this consult's patients.
PRIVILEGED = consult(id="svc_priv", code="PRIV", roles=(RoleRequirement(
    "clinician", "surgeon", specialty="orthopedics", privilege="knee_arthroplasty"),))


class MemoryRuns:
    """The ``RunStore`` port in memory (one process, one store)."""

    def __init__(self) -> None:
        self.runs: dict[int, RunReport] = {}

    def add(self, run: RunReport) -> bool:
        return self.runs.setdefault(run.trigger.event_id, run) is run

    def get(self, event_id: int) -> RunReport | None:
        return self.runs.get(event_id)

    def finish(self, run: RunReport) -> None:
        self.runs[run.trigger.event_id] = run

    def page(self, offset: int, limit: int, subject: str | None = None) -> tuple[list[RunReport], int]:
        found = [r for r in self.runs.values() if subject is None or r.trigger.subject == subject]
        return found[offset:offset + limit], len(found)


@pytest.fixture
def called_out(deps: BookingDeps, store: FakeUnitOfWorkFactory) -> Trigger:
    """dr_bone sees pt_1 at 10:00 and pt_2 (a privileged consult) at 10:30, then calls out
    for the day. dr_two (privileged) works 10:00-10:30 only, dr_three (not privileged)
    10:30-11:00 only: pt_1's least disruptive fix, dr_two at 10:00, is pt_2's only one."""
    store.put(PRIVILEGED, room("exam_2", room_type="exam", capabilities=frozenset()),
              clinician("dr_two", blocks=(block("10:00", "10:30"),)),
              clinician("dr_three", privileges=frozenset(), blocks=(block("10:30", "11:00"),)))
    book_option(BookOption(option(consult(), local(CASE_DAY, "10:00")), SCHEDULER), deps)
    book_option(BookOption(option(PRIVILEGED, local(CASE_DAY, "10:30"), patient_id="pt_2", room="exam_1",
                                  clinician="dr_bone"), SCHEDULER), deps)
    day_start, day_end = local(CASE_DAY, "07:00"), local(CASE_DAY, "19:00")
    store.put(clinician("dr_bone", exceptions=(closed(day_start, day_end),)))
    return Trigger(1, "ClinicianCalledOut", "dr_bone", ("dr_bone",), day_start, day_end, closes_fully=True)


def run(trigger: Trigger, deps: BookingDeps, policy: Policy) -> RunReport:
    runs = MemoryRuns()

    def runs_of(uow: UnitOfWork) -> MemoryRuns:
        return runs

    return recoordinate(RunReport(trigger, local(CASE_DAY, "07:00") - timedelta(days=2)),
                        RecoordinationDeps(deps, FakeNotifier(), runs_of, policy))


def outcomes_by_patient(report: RunReport, deps: BookingDeps) -> dict[str, Outcome]:
    with deps.uow() as uow:
        booked = {o.booking_id: uow.bookings.get(o.booking_id) for o in report.outcomes}
    return {b.patient_id: o for o in report.outcomes if (b := booked[o.booking_id]) is not None}


def test_one_by_one_the_first_fix_strands_the_second_booking(called_out: Trigger, deps: BookingDeps) -> None:
    report = run(called_out, deps, Policy(joint=False))
    by_patient = outcomes_by_patient(report, deps)
    assert (by_patient["pt_1"].result, by_patient["pt_2"].result) == (AUTO, QUEUED)


def test_the_joint_plan_moves_both_and_says_it_decided(called_out: Trigger, deps: BookingDeps) -> None:
    report = run(called_out, deps, Policy())
    by_patient = outcomes_by_patient(report, deps)
    assert {o.result for o in by_patient.values()} == {AUTO}
    assert {o.path for o in by_patient.values()} == {JOINT}
    assert report.plan is not None and report.plan.status == "optimal" and report.plan.placed == 2
    assert all("joint plan optimal, objective" in o.detail for o in by_patient.values())
    assert report.summary()["planned_jointly"] == 2
    with deps.uow() as uow:
        moved = [uow.bookings.get(o.booking_id) for o in report.outcomes]
    clinicians = {b.patient_id: {a.resource_id for a in b.allocations} & {"dr_two", "dr_three"}
                  for b in moved if b is not None}
    assert clinicians == {"pt_1": {"dr_three"}, "pt_2": {"dr_two"}}
    assert Outcome.from_dict(report.outcomes[0].to_dict()) == report.outcomes[0]
