"""Applying a staff move on SQLite and PostgreSQL: both pools change in one transaction,
audited; two applies racing for the one spare interpreter: exactly one wins, the other
is refused and writes nothing."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from tests.concurrency import at_once
from tests.fakes import FixedClock

from careflow import demo
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.master_admin import admin_store
from careflow.adapters.db.tables import audit_log
from careflow.adapters.db.uow import SqlUnitOfWorkFactory
from careflow.bootstrap import bootstrap
from careflow.config import load_settings
from careflow.domain.access import Actor
from careflow.domain.calendars import ExceptionKind
from careflow.domain.errors import Conflict, NotFound, PermissionDenied
from careflow.domain.ids import ResourceId
from careflow.domain.resources import Resource
from careflow.services import reallocation as use

NY = ZoneInfo("America/New_York")
ANCHOR = date(2026, 6, 1)
DAY = date(2026, 6, 2)
START, END = (datetime.combine(DAY, time(h), tzinfo=NY) for h in (10, 12))
SOURCE, TARGET = "pool-c1-interp-es", "pool-h1-interp-es"
MANAGER = Actor("mgr-1", frozenset({"clinic_manager"}))


@pytest.fixture
def deps(engine: Engine) -> use.ReallocationDeps:
    load_health_system(engine, demo.build("tiny", seed=7, anchor=ANCHOR), replace=True)
    clock = FixedClock(datetime.combine(ANCHOR, time(6), tzinfo=NY))
    settings = load_settings(database_url="sqlite://", environment="test")
    app = bootstrap(settings, uow=SqlUnitOfWorkFactory(engine), clock=clock)
    return use.ReallocationDeps(app.deps.uow, app.deps.catalogs, app.deps.clock, admin_store)


def _pool(deps: use.ReallocationDeps, rid: str) -> Resource:
    with deps.uow() as uow:
        return uow.master.load_catalog().resources[ResourceId(rid)]


def _audits(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)
                                .where(audit_log.c.action == "staffing.reallocate")).scalar_one())


def test_a_move_changes_both_pools_in_one_audited_transaction(engine: Engine,
                                                              deps: use.ReallocationDeps) -> None:
    move = use.apply_move(deps, MANAGER, SOURCE, TARGET, START, END, 1, "surge")
    assert move.leave_at == datetime.combine(DAY, time(9, 45), tzinfo=NY)
    source, target = _pool(deps, SOURCE), _pool(deps, TARGET)
    closing, extra = source.availability.exceptions[-1], target.availability.exceptions[-1]
    assert (closing.kind, closing.capacity_delta, closing.start, closing.end) == (
        ExceptionKind.CLOSURE, 1, move.leave_at, END)
    assert (extra.kind, extra.capacity_delta, extra.start, extra.end) == (ExceptionKind.EXTRA, 1, START, END)
    assert target.capacity == 2 and move.id in closing.reason and "surge" in extra.reason
    assert _audits(engine) == 2
    # a manager limited to the hospital cannot see, let alone move, the clinic's staff
    limited = Actor("mgr-2", frozenset({"clinic_manager"}), sites=frozenset({"site-h1"}))
    with pytest.raises(NotFound):
        use.apply_move(deps, limited, SOURCE, TARGET, START, END, 1)
    with pytest.raises(PermissionDenied):  # and a scheduler may not move staff at all
        use.apply_move(deps, Actor("s-1", frozenset({"scheduler"})), SOURCE, TARGET, START, END, 1)
    assert _audits(engine) == 2


def test_two_applies_racing_for_one_spare_interpreter_one_wins(engine: Engine,
                                                               deps: use.ReallocationDeps) -> None:
    results, errors = at_once([lambda: use.apply_move(deps, MANAGER, SOURCE, TARGET, START, END, 1)] * 2)
    assert len(results) == 1, errors
    assert len(errors) == 1 and isinstance(errors[0], Conflict), errors
    assert "no longer there" in str(errors[0]) or "race" in str(errors[0]).lower()
    assert len(_pool(deps, SOURCE).availability.exceptions) == 1
    assert len(_pool(deps, TARGET).availability.exceptions) == 1
    assert _audits(engine) == 2
