"""Predictions on SQLite and PostgreSQL: the overbooking policy as a versioned, audited site
setting, and the executable path that opens a session's advised overbooks as capacity.

The tiny demo's clinic (site-c1) has clin-ortho-02 on Mondays 13:00-17:00 local: six
40-minute new-patient visits. The session of Monday 1 June is filled ten days ahead through
the booking use cases and scored by the deterministic fake predictor.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from tests.fakes import FixedClock

from careflow import demo
from careflow.adapters.db import SqlUnitOfWorkFactory, load_health_system
from careflow.adapters.db.master_admin import admin_store
from careflow.adapters.db.site_setting_store import site_settings_of
from careflow.adapters.db.tables import audit_log
from careflow.domain.access import Actor
from careflow.domain.calendars import ExceptionKind
from careflow.domain.commands import BookOption
from careflow.domain.errors import Conflict
from careflow.domain.ids import PatientId, ServiceId, SiteId
from careflow.domain.options import FindRequest
from careflow.predict.fake import FakeNoShowPredictor
from careflow.services.booking import BookingDeps, book_option
from careflow.services.catalogs import CatalogCache
from careflow.services.finding import find
from careflow.services.predictions import (
    PredictionDeps,
    apply_overbooking,
    overbooking_advice,
    overbooking_policy,
    set_overbooking_policy,
)

NY = ZoneInfo("America/New_York")
DAY = date(2026, 6, 1)
SESSION = (datetime(2026, 6, 1, 13, tzinfo=NY), datetime(2026, 6, 1, 17, tzinfo=NY))
MANAGER = Actor("mgr-c1", frozenset({"clinic_manager"}))
CLINICIAN = "clin-ortho-02"


def _world(engine: Engine) -> tuple[BookingDeps, PredictionDeps, FixedClock]:
    load_health_system(engine, demo.build("tiny", seed=7, anchor=DAY), replace=True)
    clock = FixedClock(datetime(2026, 5, 22, 9, tzinfo=NY))
    booking = BookingDeps(SqlUnitOfWorkFactory(engine), CatalogCache(), clock)
    predictions = PredictionDeps(booking.uow, booking.catalogs, clock, site_settings_of,
                                 noshow=FakeNoShowPredictor(), admin=admin_store)
    return booking, predictions, clock


def _options(deps: BookingDeps, patient: str) -> list[object]:
    request = FindRequest(ServiceId("svc-ortho-new"), PatientId(patient), *SESSION,
                          site_ids=frozenset({SiteId("site-c1")}))
    return list(find(request, deps).options)


def _fill(deps: BookingDeps) -> None:
    for n in range(1, 7):
        [first, *_] = _options(deps, f"pat-{n:05d}")
        book_option(BookOption(first, MANAGER), deps)  # type: ignore[arg-type]
    assert _options(deps, "pat-00020") == []


def test_the_policy_is_a_versioned_audited_site_setting(engine: Engine) -> None:
    _, deps, _ = _world(engine)
    policy, setting = overbooking_policy(deps, MANAGER, "site-c1")
    assert (policy.mode, setting) == ("advisory", None)
    set_overbooking_policy(deps, MANAGER, "site-c1", {"mode": "advisory", "max_per_session": 1}, "committee")
    second = set_overbooking_policy(deps, MANAGER, "site-c1", {"mode": "executable"}, "pilot",
                                    expected_version=1)
    with pytest.raises(Conflict):
        set_overbooking_policy(deps, MANAGER, "site-c1", {"mode": "advisory"}, "late", expected_version=1)
    policy, setting = overbooking_policy(deps, MANAGER, "site-c1")
    assert policy.mode == "executable" and setting == second and setting.version == 2
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.reason, audit_log.c.detail)
                            .where(audit_log.c.action == "site_setting.change")).all()
    assert [(r[0], r[1]) for r in rows] == [("mgr-c1", "committee"), ("mgr-c1", "pilot")]
    assert rows[1][2]["before"]["mode"] == "advisory" and rows[1][2]["after"]["mode"] == "executable"


def test_an_executable_site_opens_the_advised_overbooks_and_an_advisory_one_does_not(
        engine: Engine) -> None:
    booking, deps, _ = _world(engine)
    _fill(booking)
    set_overbooking_policy(deps, MANAGER, "site-c1", {"risk_tolerance": 0.3}, "committee")
    with pytest.raises(Conflict):
        apply_overbooking(deps, MANAGER, "site-c1", DAY)
    assert _options(booking, "pat-00020") == []  # advisory: shown, nothing opened
    [advice] = overbooking_advice(deps, MANAGER, "site-c1", DAY).advice
    assert advice.extra >= 1
    set_overbooking_policy(deps, MANAGER, "site-c1", {"mode": "executable", "risk_tolerance": 0.3}, "pilot")
    [applied] = apply_overbooking(deps, MANAGER, "site-c1", DAY, "pilot week")
    assert (applied.lanes_before, applied.lanes) == (0, advice.extra)
    with booking.uow() as uow:
        clinician = booking.catalogs.get(uow).resource(CLINICIAN)
    extra = [e for e in clinician.availability.exceptions if e.kind is ExceptionKind.EXTRA]
    assert len(extra) == 1 and extra[0].capacity_delta == advice.extra
    assert applied.advice_id in extra[0].reason
    assert clinician.capacity == 1 + advice.extra
    [overbook, *_] = _options(booking, "pat-00020")  # the overbook goes through the ordinary commands
    book_option(BookOption(overbook, MANAGER), booking)  # type: ignore[arg-type]
    set_overbooking_policy(deps, MANAGER, "site-c1", {"mode": "executable", "max_per_session": 0}, "stop")
    again = apply_overbooking(deps, MANAGER, "site-c1", DAY)
    assert all(a.lanes >= 1 for a in again)  # never below the overbook already booked
    with engine.connect() as conn:
        reasons = [r[0] for r in conn.execute(select(audit_log.c.reason)
                                              .where(audit_log.c.action == "overbooking.apply"))]
    assert reasons[0].startswith(applied.advice_id) and "pilot week" in reasons[0]
