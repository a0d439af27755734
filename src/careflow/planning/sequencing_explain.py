"""Why a sequencing proposal moved a case, and why a day cannot be sequenced at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from careflow.planning.sequencing_problem import DayProblem, Penalty, SharedKind
from careflow.planning.sequencing_rules import Grid, Placement, breaches, clock

__all__ = ["MAX_LINES", "explain_infeasible", "why_moved"]

MAX_LINES = 20  # of the rules that cannot hold together (a big day's set can be long)


def _hours(problem: DayProblem, spans: Sequence[tuple[int, int]]) -> str:
    grid = Grid(problem.origin)
    shown = [f"{clock(problem, grid.up(a))}-{clock(problem, grid.down(b))}" for a, b in spans]
    return ", ".join(shown) or "none"


def _loads(problem: DayProblem) -> list[str]:
    """Rooms and surgeons whose cases need more minutes than they have: the usual cause."""
    out: list[str] = []
    allowance = Grid.minutes(problem.overtime_allowance)
    for room in problem.rooms:
        stuck = [c for c in problem.cases
                 if c.room_id == room.id and (c.locked or not problem.allow_room_change or not c.rooms)]
        need = sum(Grid.minutes(c.setup) + Grid.minutes(c.duration) + Grid.minutes(c.turnover) for c in stuck)
        have = sum(Grid.minutes(b - a) for a, b in room.open) + (allowance if room.open else 0)
        if need > have:
            out.append(f"{room.id}: its {len(stuck)} case(s) need {need} min with setup and turnover; "
                       f"it is open {have} min ({_hours(problem, room.open)})")
    for res in problem.shared:
        if res.kind is not SharedKind.SURGEON:
            continue
        need = sum(Grid.minutes(c.duration) for c in problem.cases
                   if any(u.resource_id == res.id for u in c.uses))
        have = sum(Grid.minutes(b - a) for a, b, n in res.on_duty if n > 0)
        if need > have:
            out.append(f"{res.id}: their cases need {need} min; they are on duty {have} min")
    return out


def _assumption(problem: DayProblem, name: str) -> str:
    rule, _, subject = name.partition(":")
    grid = Grid(problem.origin)
    case = next((c for c in problem.cases if c.booking_id == subject), None)
    if rule == "room_hours" and case is not None:
        room = problem.room(case.room_id)
        size = Grid.minutes(case.setup) + Grid.minutes(case.duration) + Grid.minutes(case.turnover)
        return (f"room_hours: {subject} ({case.service_code}, {size} min with setup and turnover) "
                f"must fit in {room.id}'s open hours ({_hours(problem, room.open)})")
    if rule == "apply_order":
        return ("apply_order: the moves must be applicable one case at a time (no swaps; "
                "allowing swaps lifts it)")
    if rule == "locked" and case is not None:
        return f"locked_case: {subject} stays at {clock(problem, grid.down(case.start))} in {case.room_id}"
    if rule == "notice" and case is not None and case.earliest_move is not None:
        return (f"booking_notice: {subject} may move no earlier than "
                f"{clock(problem, grid.up(case.earliest_move))}")
    if rule == "duty":
        res = problem.resource(subject)
        spans = [(a, b) for a, b, n in res.on_duty if n > 0]
        held = f", less {len(res.fixed)} other booking(s)" if res.fixed else ""
        return (f"{res.kind.value} hours: {subject} is on duty {_hours(problem, spans)} "
                f"(at most {res.capacity} at once{held})")
    if rule == "busy":
        fixed = (problem.resource(subject).fixed if any(s.id == subject for s in problem.shared)
                 else problem.room(subject).fixed)
        held = ", ".join(f"{f.what or 'held'} {_hours(problem, [f.span])}" for f in fixed[:5])
        return f"other bookings: {subject} is held by {held}"
    return name


def explain_infeasible(problem: DayProblem, core: Sequence[str]) -> tuple[str, ...]:
    """Lines naming the hard rules that cannot all hold (and the overloaded rooms or surgeons)."""
    lines = ["no order of the day's cases keeps every hard rule; these cannot all hold together:"]
    named = [f"  {_assumption(problem, name)}" for name in sorted(core)]
    lines += named[:MAX_LINES] or ["  the cases do not fit together in the day at all"]
    if len(named) > MAX_LINES:
        lines.append(f"  … and {len(named) - MAX_LINES} more")
    loads = _loads(problem)
    if loads:
        lines += ["overloaded:"] + [f"  {line}" for line in loads]
    return tuple(lines)


def why_moved(problem: DayProblem, booked: Placement, placement: Placement,
              before: Sequence[Penalty], after: Sequence[Penalty]) -> dict[str, tuple[str, ...]]:
    """For each moved case, the hard rules its booked time broke, else the soft terms the move lowers."""
    broken: dict[str, list[str]] = {}
    for b in breaches(problem, booked):
        for case_id in b.cases:
            broken.setdefault(case_id, []).append(f"as booked it breaks {b.rule}: {b.message}")
    was: Mapping[str, int] = {p.name: p.cost for p in before}
    gains = [f"{p.name} {was[p.name]}→{p.cost}" for p in after if p.cost < was[p.name]]
    out: dict[str, tuple[str, ...]] = {}
    for case in problem.cases:
        if placement[case.booking_id] == booked[case.booking_id]:
            continue
        reasons = list(dict.fromkeys(broken.get(case.booking_id, [])))
        if case.priority and placement[case.booking_id][1] < booked[case.booking_id][1]:
            reasons.append(f"priority ({', '.join(case.priority)}): starts earlier")
        if not reasons:
            reasons.append("lowers the day's cost: "
                           + (", ".join(gains) if gains else "an order of equal cost"))
        out[case.booking_id] = tuple(reasons)
    return out
