"""The soft rules of the sequencing model, one function each: penalty terms that grow with
the minutes (or the cases) they count, weighted into the objective by ``objective``."""

from __future__ import annotations

from ortools.sat.python import cp_model

from careflow.planning.sequencing_model import SequencingModel, dur
from careflow.planning.sequencing_problem import SharedKind
from careflow.planning.sequencing_rules import Grid

__all__ = ["moves", "objective", "overtime", "priority_late", "room_idle", "surgeon_idle"]


def overtime(m: SequencingModel) -> None:
    """Soft: minutes each room runs past its close (its last case's turnover included)."""
    for room in m.problem.rooms:
        if room.closes is None:
            continue
        late = m.model.new_int_var(0, 2 * m.span, f"overtime[{room.id}]")
        close = m.grid.down(room.closes)
        for case in m.problem.cases:
            if (lit := m.in_room.get((case.booking_id, room.id))) is not None:
                end = m.start[case.booking_id] + dur(case) + Grid.minutes(case.turnover)
                m.model.add(late >= end - close).only_enforce_if(lit)
        m.term("overtime", late)


def surgeon_idle(m: SequencingModel) -> None:
    """Soft: minutes a surgeon waits between the start of their first case and the end of their last."""
    for res in m.problem.shared:
        mine = [c for c in m.problem.cases if res.kind is SharedKind.SURGEON
                and any(u.resource_id == res.id for u in c.uses)]
        if len(mine) < 2:
            continue
        first = m.model.new_int_var(0, m.span, f"first[{res.id}]")
        last = m.model.new_int_var(0, 2 * m.span, f"last[{res.id}]")
        m.model.add_min_equality(first, [m.start[c.booking_id] for c in mine])
        m.model.add_max_equality(last, [m.start[c.booking_id] + dur(c) for c in mine])
        m.term("surgeon_idle", last - first - sum(dur(c) for c in mine))


def room_idle(m: SequencingModel) -> None:
    """Soft: minutes a room stands empty between its first case's setup and its last turnover."""
    for room in m.problem.rooms:
        cases = [(c, lit) for c in m.problem.cases
                 if (lit := m.in_room.get((c.booking_id, room.id))) is not None]
        if not cases:
            continue
        first = m.model.new_int_var(-m.span, 2 * m.span, f"room_first[{room.id}]")
        last = m.model.new_int_var(-m.span, 2 * m.span, f"room_last[{room.id}]")
        lits: list[cp_model.IntVar] = []
        sizes: list[int] = []
        for c, lit in cases:
            setup, size = Grid.minutes(c.setup), Grid.minutes(c.setup) + dur(c) + Grid.minutes(c.turnover)
            m.model.add(first <= m.start[c.booking_id] - setup).only_enforce_if(lit)
            m.model.add(last >= m.start[c.booking_id] - setup + size).only_enforce_if(lit)
            lits.append(lit)
            sizes.append(size)
        idle = m.model.new_int_var(0, 3 * m.span, f"room_idle[{room.id}]")
        m.model.add(idle >= last - first - cp_model.LinearExpr.weighted_sum(lits, sizes))
        m.term("room_idle", idle)


def priority_late(m: SequencingModel) -> None:
    """Soft: minutes a priority case (a child, an urgent case) starts after its room opens."""
    for case in m.problem.cases:
        if not case.priority:
            continue
        wait = m.model.new_int_var(0, 2 * m.span, f"late[{case.booking_id}]")
        for room_id in m.rooms_of(case):
            opens = m.problem.room(room_id).opens
            if opens is not None:
                (m.model.add(wait >= m.start[case.booking_id] - Grid.minutes(case.setup) - m.grid.up(opens))
                 .only_enforce_if(m.in_room[case.booking_id, room_id]))
        m.term("priority_late", wait)


def moves(m: SequencingModel, moved: dict[str, cp_model.IntVar]) -> None:
    """Soft: each case moved (``moved_case``), the minutes it moves (``moved_minutes``), and
    a case put in another room (``room_change``)."""
    for case in m.problem.cases:
        shift = m.model.new_int_var(0, 3 * m.span, f"shift[{case.booking_id}]")
        m.model.add_abs_equality(shift, m.start[case.booking_id] - m.grid.down(case.start))
        m.term("moved_case", moved[case.booking_id])
        m.term("moved_minutes", shift)
        if len(m.rooms_of(case)) > 1:
            m.term("room_change", 1 - m.in_room[case.booking_id, case.room_id])


def objective(m: SequencingModel) -> None:
    """Minimize the weighted sum of every soft rule's terms."""
    w = m.problem.weights
    weight = {"overtime": w.overtime_minute, "surgeon_idle": w.surgeon_idle_minute,
              "room_idle": w.room_idle_minute, "priority_late": w.priority_late_minute,
              "moved_case": w.moved_case, "moved_minutes": w.moved_minute, "room_change": w.room_change}
    m.model.minimize(sum(weight[rule] * sum(exprs) for rule, exprs in m.terms.items()))
