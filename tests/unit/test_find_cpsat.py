"""find proposes a case whenever distinct units exist for all its roles, even when the quick
search gives up, and takes the cheapest assignment: ``planning.assignment``."""

from __future__ import annotations

from datetime import timedelta

from tests.factories import CASE_DAY, clinician, consult, local
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.access import Actor
from careflow.domain.commands import CheckOption
from careflow.domain.ids import PatientId, ServiceId
from careflow.domain.options import FindRequest
from careflow.domain.preference_cards import RoleRequirement
from careflow.planning import assignment
from careflow.planning.assignment import Assigned, Demand, Unit, Unsettled, assign, assign_cp_sat
from careflow.services.booking import BookingDeps, check
from careflow.services.finding import find

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
DAY_START = local(CASE_DAY, "07:00")
# Six assistants and a lead: only dr_bone (first in every order) may lead, nine others assist.
LEAD = RoleRequirement("clinician", "surgeon", specialty="orthopedics", privilege="knee_arthroplasty")
TEAM = consult(roles=(RoleRequirement("assistant", "surgeon", count=6), LEAD))
HELPERS = [clinician(f"dr_help_{i}", privileges=frozenset()) for i in range(9)]


def test_find_offers_a_case_the_quick_search_gives_up_on(deps: BookingDeps,
                                                         store: FakeUnitOfWorkFactory) -> None:
    store.put(TEAM, *HELPERS)
    assert _placements_to_prove(_team_demands()) > assignment.ASSIGN_STEPS, "the search runs out"

    result = find(FindRequest(ServiceId(TEAM.id), PatientId("pt_1"), DAY_START,
                              DAY_START + timedelta(days=1)), deps)
    options = result.options

    assert options, "CP-SAT finds the assignment the step budget could not reach"
    assert result.proven  # CP-SAT proved each option's team the cheapest
    for opt in options:
        people = [a.resource_id for a in opt.allocations if a.role in ("clinician", "assistant")]
        lead = [a.resource_id for a in opt.allocations if a.role == "clinician"]
        assert lead == ["dr_bone"] and len(set(people)) == 7
        assert check(CheckOption(opt, SCHEDULER), deps) == []


def test_a_search_cut_short_that_cp_sat_cannot_finish_is_the_best_found_not_proven() -> None:
    people = [f"dr_{i}" for i in range(10)]
    demands = [Demand(1, (Unit("dr_0", slack=0), Unit("dr_1", slack=5))),
               Demand(4, tuple(Unit(p, slack=(7 * i) % 11) for i, p in enumerate(people))),
               Demand(1, (Unit("dr_0", slack=0), Unit("dr_2", slack=3)))]
    assert assign(demands, steps=1000) == assign(demands, steps=1000, time_limit_s=0.0)  # proven by search
    found = assign(demands, steps=64, time_limit_s=0.0)  # 64 steps find a plan; CP-SAT gets no time
    assert isinstance(found, Assigned) and (found.method, found.proven) == ("search", False)


def test_a_team_neither_the_search_nor_cp_sat_settles_is_unsettled_not_impossible() -> None:
    assert isinstance(assign(_team_demands(), steps=10, time_limit_s=0.0), Unsettled)
    assert assign([Demand(2, (Unit("dr_a"), Unit("dr_b"))), Demand(1, (Unit("dr_a"), Unit("dr_b")))],
                  steps=10, time_limit_s=0.0) is None  # two units for three places: none exists


def test_the_greedy_pass_is_kept_when_no_role_took_another_ones_choice() -> None:
    demands = [Demand(1, (Unit("dr_a", preferred=True), Unit("dr_b"))), Demand(1, (Unit("room_1"),))]
    found = assign(demands)
    assert found is not None and (found.picks, found.method, found.proven) == (((0,), (0,)), "greedy", True)


def test_the_exact_search_keeps_the_only_lead_for_the_lead_role() -> None:
    # the assistant role is filled first and would take dr_a, the only one who may lead
    demands = [Demand(1, (Unit("dr_a", slack=0), Unit("dr_b", slack=30))),
               Demand(1, (Unit("dr_a", slack=0),))]
    found = assign(demands)
    assert found is not None and (found.picks, found.method, found.proven) == (((1,), (0,)), "search", True)


def test_a_conflict_is_settled_by_the_least_idle_time_not_by_which_role_came_first() -> None:
    # first choices clash on dr_a; giving dr_a to the second role idles 10 minutes, not 100
    demands = [Demand(1, (Unit("dr_a", slack=0), Unit("dr_b", slack=10))),
               Demand(1, (Unit("dr_a", slack=0), Unit("dr_c", slack=100)))]
    found = assign(demands)
    assert found is not None and found.picks == ((1,), (0,))


def test_a_preferred_clinician_outweighs_any_idle_time() -> None:
    # two preferred people with 1000 idle minutes beat one preferred and 900
    demands = [Demand(1, (Unit("dr_p1", preferred=True, slack=900), Unit("dr_x", slack=0))),
               Demand(1, (Unit("dr_p1", preferred=True, slack=900), Unit("dr_p2", preferred=True, slack=100),
                          Unit("dr_y", slack=0)))]
    found = assign(demands)
    assert found is not None and found.picks == ((0,), (1,))


def test_an_overtime_approval_outweighs_any_idle_time_but_not_a_preferred_clinician() -> None:
    # dr_b is first choice for both roles; giving dr_b to the second role and dr_a (past their
    # overtime threshold) to the first idles nobody, but one approval costs more than 105 minutes
    demands = [Demand(1, (Unit("dr_b", slack=5), Unit("dr_a", slack=0, soft=1))),
               Demand(1, (Unit("dr_b", slack=0), Unit("dr_c", slack=100)))]
    for found in (assign(demands), assign_cp_sat(demands)):
        assert isinstance(found, Assigned) and found.picks == ((0,), (1,))
    usual = [Demand(1, (Unit("dr_usual", preferred=True, soft=1), Unit("dr_x"))),
             Demand(1, (Unit("dr_x"), Unit("dr_y")))]
    found = assign_cp_sat(usual)
    assert isinstance(found, Assigned) and found.picks[0] == (0,), "the usual clinician, approval and all"


def test_cp_sat_and_the_exact_search_agree_on_the_cost() -> None:
    demands = [Demand(2, tuple(Unit(f"u{i}", preferred=i % 3 == 0, slack=7 * i % 5, soft=i % 2)
                               for i in range(6))),
               Demand(2, tuple(Unit(f"u{i}", slack=i) for i in (0, 3, 4))),
               Demand(1, (Unit("u3", preferred=True), Unit("u5")))]
    exact = assign(demands, steps=10_000)
    solved = assign_cp_sat(demands)
    assert exact is not None and solved is not None
    assert (exact.method, solved.method, solved.proven) == ("search", "cp-sat", True)
    assert solved.cost == exact.cost


def test_no_assignment_when_the_units_cannot_cover_every_role() -> None:
    demands = [Demand(2, (Unit("dr_a"), Unit("dr_b"))), Demand(1, (Unit("dr_a"), Unit("dr_b")))]
    assert assign(demands) is None
    assert assign_cp_sat(demands) is None


def _team_demands() -> list[Demand]:
    """The team's roles as ``_assign`` sees them at an hour everyone is free."""
    people = ["dr_bone", *(h.id for h in HELPERS)]
    return [Demand(1, (Unit("exam_1"),)), Demand(6, tuple(Unit(p) for p in people)),
            Demand(1, (Unit("dr_bone"),))]


def _placements_to_prove(demands: list[Demand]) -> int:
    """How many placements the exact search needs (with no budget)."""
    for steps in (2**k for k in range(4, 16)):
        if assignment._branch_and_bound(demands, assignment._costs(demands), steps)[1]:
            return steps
    return 2**16
