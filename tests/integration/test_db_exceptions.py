"""The exception queue on SQLite and PostgreSQL: round trips, queue order, filters, and a
claim race with exactly one winner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import Engine
from tests.concurrency import at_once
from tests.fakes import FixedClock

from careflow.adapters.db.uow import SqlUnitOfWorkFactory
from careflow.domain.access import Actor
from careflow.domain.errors import Conflict, InvalidTransition
from careflow.domain.exceptions_queue import RaiseException
from careflow.services import exception_queue as use
from careflow.services.ports import ExceptionFilter

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ALICE = Actor("alice", frozenset({"scheduler"}))
OPTION = {"rank": 1, "site_id": "s1", "start": "2026-06-02T13:00:00+00:00", "allocations": [{"r": "or1"}]}


def _cmd(priority: str = "normal", team: str = "procurement") -> RaiseException:
    return RaiseException("implant_short", team, priority, "mesh short", booking_id="bk_1",
                          patient_id="p_1", site_id="s1", alternatives=(OPTION,))


def test_an_item_round_trips_with_its_comments_alternatives_and_resolution(engine: Engine) -> None:
    uow, clock = SqlUnitOfWorkFactory(engine), FixedClock(T0)
    item = use.raise_exception(_cmd(), ALICE, uow, clock)
    use.claim(item.id, ALICE, uow)
    use.comment(item.id, "asked the vendor", ALICE, uow, clock)
    clock.now = T0 + timedelta(minutes=30)
    use.resolve(item.id, "fixed_upstream", "arrived", ALICE, uow, clock)
    back = use.get(item.id, ALICE, uow)
    assert back.status == "resolved" and back.assignee == "alice" and back.version == 4
    assert back.alternatives == [OPTION]
    assert [(c.author, c.text, c.at) for c in back.comments] == [("alice", "asked the vendor", T0)]
    assert back.resolution is not None and back.resolution.at == T0 + timedelta(minutes=30)
    assert back.created_at == T0 and back.sla_due_at.tzinfo is not None
    with uow() as u:
        assert [i.id for i in u.exceptions.resolved_between(T0, T0 + timedelta(hours=1))] == [item.id]
        assert u.exceptions.unresolved() == []


def test_the_queue_is_ordered_by_priority_then_due_and_filters_by_team_and_breach(engine: Engine) -> None:
    uow, clock = SqlUnitOfWorkFactory(engine), FixedClock(T0)
    low = use.raise_exception(_cmd("low"), ALICE, uow, clock)
    urgent = use.raise_exception(_cmd("urgent", team="scheduling"), ALICE, uow, clock)
    normal = use.raise_exception(_cmd("normal"), ALICE, uow, clock)
    items, total = use.list_items(ExceptionFilter(), ALICE, uow)
    assert [i.id for i in items] == [urgent.id, normal.id, low.id] and total == 3
    items, total = use.list_items(ExceptionFilter(owner_team="procurement"), ALICE, uow, 0, 1)
    assert [i.id for i in items] == [normal.id] and total == 2
    items, _ = use.list_items(ExceptionFilter(breached_at=T0 + timedelta(hours=2)), ALICE, uow)
    assert [i.id for i in items] == [urgent.id]
    limited = Actor("far", frozenset({"scheduler"}), sites=frozenset({"elsewhere"}))
    assert use.list_items(ExceptionFilter(), limited, uow)[1] == 0


def test_escalation_on_the_database_is_idempotent(engine: Engine) -> None:
    uow, clock = SqlUnitOfWorkFactory(engine), FixedClock(T0)
    item = use.raise_exception(_cmd("urgent"), ALICE, uow, clock)  # due in 60 minutes
    clock.now = T0 + timedelta(minutes=61)
    assert use.escalate_due(uow, clock) == 1
    assert use.escalate_due(uow, clock) == 0
    assert use.get(item.id, ALICE, uow).escalation_level == 2


def test_two_claimers_at_once_exactly_one_wins(engine: Engine) -> None:
    uow, clock = SqlUnitOfWorkFactory(engine), FixedClock(T0)
    for _ in range(5):
        item = use.raise_exception(_cmd(), ALICE, uow, clock)

        def claim(who: str, item_id: str = item.id) -> str:
            use.claim(item_id, Actor(who, frozenset({"scheduler"})), uow)
            return who

        won, lost = at_once([partial(claim, who) for who in ("ann", "ben")], timeout=30)
        # the loser lost the race, or read the winner's claim
        assert all(isinstance(exc, Conflict | InvalidTransition) for exc in lost), lost
        assert len(won) == 1 and len(lost) == 1, (won, lost)
        assert use.get(item.id, ALICE, uow).assignee == won[0]


def test_a_second_resolve_is_refused_and_leaves_the_first_outcome(engine: Engine) -> None:
    uow, clock = SqlUnitOfWorkFactory(engine), FixedClock(T0)
    item = use.raise_exception(_cmd(), ALICE, uow, clock)
    use.resolve(item.id, "duplicate", "", ALICE, uow, clock)
    with pytest.raises(InvalidTransition, match="resolved"):
        use.resolve(item.id, "cancelled", "", ALICE, uow, clock)
    resolution = use.get(item.id, ALICE, uow).resolution
    assert resolution is not None and resolution.outcome == "duplicate"
