"""When checking slots one by one runs out of budget, ``find`` hands the search to CP-SAT,
which chooses start, room and people together over every grid start and proves the ranking;
and people who would need an overtime approval are taken last."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from tests.factories import CASE_DAY, chair, clinician, closed, consult, infusion, local, patient, room, stock
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.access import Actor
from careflow.domain.commands import CheckOption
from careflow.domain.ids import PatientId, ResourceId, ServiceId
from careflow.domain.options import FindRequest, Option
from careflow.domain.preference_cards import ItemRequirement
from careflow.domain.resources import ContractLimits
from careflow.domain.violations import ViolationCode
from careflow.planning import slots
from careflow.planning.assignment import Unsettled
from careflow.services.booking import BookingDeps, check
from careflow.services.finding import find

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
DAY_START = local(CASE_DAY, "07:00")
# Past a 15-minute weekly threshold, every case needs an overtime approval.
TIRED = ContractLimits(overtime_threshold_week=0.25)


def staggered(i: int, days: int = 3) -> tuple[object, ...]:
    """An hour closed at a different time each day in unit ``i``: many distinct gap edges."""
    out = []
    for d in range(days):
        day = (date.fromisoformat(CASE_DAY) + timedelta(days=d)).isoformat()
        hour, minute = 8 + (i * 7 + d * 3) % 9, (i * 10) % 60
        out.append(closed(local(day, f"{hour:02d}:{minute:02d}"), local(day, f"{hour + 1:02d}:{minute:02d}")))
    return tuple(out)


def request(service: str, days: int = 3) -> FindRequest:
    return FindRequest(ServiceId(service), PatientId("pt_1"), DAY_START, DAY_START + timedelta(days=days))


def ranked(options: list[Option]) -> list[tuple[float, int]]:
    return [(o.score, int(o.start.timestamp())) for o in options]


@pytest.fixture
def low_iron_chairs(store: FakeUnitOfWorkFactory) -> None:
    """Ten chairs closed an hour at staggered times; iron under its reorder point, so every
    option carries a soft warning the slot scores do not show."""
    store.put(infusion(items=(ItemRequirement("iron", 1),)), stock("iron", on_hand=3, threshold=5),
              *[chair(f"chair_{i}", exceptions=staggered(i)) for i in range(1, 11)])  # type: ignore[arg-type]


@pytest.mark.usefixtures("low_iron_chairs")
def test_find_hands_a_search_that_runs_out_of_checks_to_cp_sat_and_proves_its_ranking(
        deps: BookingDeps) -> None:
    result = find(request("svc_infusion"), deps)

    assert result.cp_sat, "every option scores 30 more than its slot: the check budget runs out"
    assert result.proven
    assert len(result.options) == 10
    assert ranked(result.options) == sorted(ranked(result.options))
    for opt in result.options:
        assert check(CheckOption(opt, SCHEDULER), deps) == list(opt.warnings)
        assert [w.code for w in opt.warnings] == [ViolationCode.STOCK_BELOW_THRESHOLD]
    assert find(request("svc_infusion"), deps).options == result.options, "the same answer again"


@pytest.mark.usefixtures("low_iron_chairs")
def test_cp_sat_ranks_starts_inside_the_gaps_that_checking_slot_by_slot_never_reaches(
        deps: BookingDeps, monkeypatch: pytest.MonkeyPatch) -> None:
    handed = find(request("svc_infusion"), deps)
    monkeypatch.setattr(slots, "CHECKS_PER_OPTION", 10_000)  # slot by slot, never cut short
    exhaustive = find(request("svc_infusion"), deps)

    assert not exhaustive.cp_sat and exhaustive.proven
    pairs = zip(handed.options, exhaustive.options, strict=True)
    assert all(mine.score <= theirs.score for mine, theirs in pairs), "never a worse option"
    assert handed.options[-1].score < exhaustive.options[-1].score
    # the better ones are inside a gap: an hour after a chair opens, not at either edge
    found_by_cp_sat = {o.start for o in handed.options} - {o.start for o in exhaustive.options}
    assert found_by_cp_sat


@pytest.mark.usefixtures("low_iron_chairs")
def test_a_start_whose_team_search_settles_nothing_leaves_the_answer_unproven(
        deps: BookingDeps, monkeypatch: pytest.MonkeyPatch) -> None:
    best = find(request("svc_infusion"), deps).options[0]
    assign = slots._assign

    def undecided(inp: slots.SearchInputs, plan: Any, slot: Any) -> Any:
        if slot.start == int(best.start.timestamp()):
            return Unsettled()
        return assign(inp, plan, slot)

    monkeypatch.setattr(slots, "_assign", undecided)
    result = find(request("svc_infusion"), deps)

    assert best.start not in {o.start for o in result.options}
    assert not result.proven, "a start that may have had the best option went unsettled"


def test_find_takes_a_rested_clinician_before_one_who_would_need_overtime_approval(
        store: FakeUnitOfWorkFactory, deps: BookingDeps) -> None:
    # dr_bone sorts first and fits as tightly, but any case puts them past their threshold.
    store.put(clinician("dr_bone", contract=TIRED), clinician("dr_rest"))
    best = find(request("svc_consult", days=1), deps).options[0]

    assert [a.resource_id for a in best.allocations if a.role == "clinician"] == ["dr_rest"]
    assert best.warnings == ()


def test_a_usual_clinician_in_overtime_is_kept_and_cp_sat_proves_the_ranking(
        store: FakeUnitOfWorkFactory, deps: BookingDeps) -> None:
    store.put(consult(duration_minutes=60), clinician("dr_bone", contract=TIRED), clinician("dr_rest"),
              replace(patient("pt_1"), usual_clinicians=frozenset({ResourceId("dr_bone")})),
              *[room(f"exam_{i}", room_type="exam", capabilities=frozenset(), exceptions=staggered(i))
                for i in range(1, 11)])  # type: ignore[arg-type]
    result = find(request("svc_consult"), deps)

    assert result.cp_sat and result.proven
    for opt in result.options:
        assert [a.resource_id for a in opt.allocations if a.role == "clinician"] == ["dr_bone"]
        assert check(CheckOption(opt, SCHEDULER), deps) == list(opt.warnings)


def test_when_every_clinician_is_in_overtime_cp_sat_still_proves_the_ranking(
        store: FakeUnitOfWorkFactory, deps: BookingDeps) -> None:
    store.put(consult(duration_minutes=60), clinician("dr_bone", contract=TIRED),
              *[room(f"exam_{i}", room_type="exam", capabilities=frozenset(), exceptions=staggered(i))
                for i in range(1, 11)])  # type: ignore[arg-type]
    result = find(request("svc_consult"), deps)

    assert result.cp_sat and result.proven
    for opt in result.options:
        assert [w.code for w in opt.warnings] == [ViolationCode.CLINICIAN_OVERTIME_NEEDS_APPROVAL]
        assert check(CheckOption(opt, SCHEDULER), deps) == list(opt.warnings)
