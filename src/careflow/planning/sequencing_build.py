"""The whole sequencing model: variables, the hard rules, then the weighted soft ones."""

from __future__ import annotations

from careflow.planning.sequencing_model import (
    SequencingModel,
    anesthesia_coverage,
    booking_notice,
    case_variables,
    equipment_one_room,
    locked_case,
    moved_literals,
    room_hours,
    room_turnover,
    staff_coverage,
    surgeon_one_room,
)
from careflow.planning.sequencing_order import apply_order
from careflow.planning.sequencing_problem import DayProblem
from careflow.planning.sequencing_soft import (
    moves,
    objective,
    overtime,
    priority_late,
    room_idle,
    surgeon_idle,
)

__all__ = ["build_model"]


def build_model(problem: DayProblem, explain: bool = False) -> SequencingModel:
    """The model of ``problem``; with ``explain``, its hard rules' literals are assumptions and
    there is no objective (only which hard rules cannot hold together is asked then)."""
    m = SequencingModel(problem, explain)
    case_variables(m)
    room_hours(m)
    room_turnover(m)
    surgeon_one_room(m)
    equipment_one_room(m)
    anesthesia_coverage(m)
    staff_coverage(m)
    locked_case(m)
    moved = moved_literals(m)
    booking_notice(m, moved)
    apply_order(m, moved)
    if explain:
        m.model.add_assumptions(m.literals)
        return m
    overtime(m)
    surgeon_idle(m)
    room_idle(m)
    priority_late(m)
    moves(m, moved)
    objective(m)
    return m
