"""The surgical case workflow on DBOS, in process, on a real SQLite database (one DBOS
launch for the module; each test uses its own synthetic patient).

Stories: a case with everything in place books at once; one whose patient's preparation
is incomplete holds, asks pre-admission nursing and books on ``prep_done``; one waiting
for the payer asks revenue cycle and books when AuthorizationChanged arrives; one short
of an implant asks procurement with a purchase request, is planned after the lead time,
and books when StockChanged says it arrived; one whose lead time misses the whole
window goes to the exception queue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update
from tests.conftest import SITE, SURGEON, tiny_system
from tests.fakes import FakeNotifier

from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.adapters.db.tables import audit_log, authorization, booking, stock_item
from careflow.adapters.workflows import start_workflows, stop_workflows
from careflow.bootstrap import App, bootstrap
from careflow.config import load_settings
from careflow.domain.access import Actor
from careflow.domain.bookings import Urgency
from careflow.domain.events import AuthorizationChanged, StockChanged
from careflow.domain.ids import AuthorizationId, PatientId, ServiceId
from careflow.domain.patients import Authorization, AuthorizationStatus
from careflow.domain.preference_cards import (
    ItemRequirement,
    PrepItem,
    Prerequisites,
    RoleRequirement,
    RoomRequirement,
    Service,
    ServiceKind,
)
from careflow.domain.surgical_cases import CaseRequest
from careflow.services import surgical_cases as cases

COORDINATOR = Actor("coord-1", frozenset({"perioperative_coordinator"}))
NURSE = Actor("nurse-1", frozenset({"perioperative_coordinator"}))


def _services() -> list[Service]:
    surgeon = (RoleRequirement("surgeon", "surgeon", 1, "general", "lap_chole"),)
    room = RoomRequirement("operating", frozenset({"laparoscopy"}))
    return [
        Service(
            ServiceId("svc_prep"),
            "LAPPREP",
            "Case with preparation",
            ServiceKind.SURGERY,
            60,
            "general",
            15,
            15,
            roles=surgeon,
            room=room,
            prerequisites=Prerequisites(False, (PrepItem("labs", 1),)),
        ),
        Service(
            ServiceId("svc_auth"),
            "LAPAUTH",
            "Case needing the payer",
            ServiceKind.SURGERY,
            60,
            "general",
            15,
            15,
            roles=surgeon,
            room=room,
            prerequisites=Prerequisites(True),
        ),
        Service(
            ServiceId("svc_valve"),
            "VALVE",
            "Case with a valve",
            ServiceKind.SURGERY,
            60,
            "general",
            15,
            15,
            roles=surgeon,
            room=room,
            items=(ItemRequirement("valve", 1),),
        ),
    ]


@dataclass
class World:
    app: App
    notifier: FakeNotifier
    url: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from careflow.domain.stock import StockLevel

    url = f"sqlite:///{tmp_path_factory.mktemp('wf') / 'careflow.db'}"
    migrate(url)
    hs = tiny_system(patients=12)
    hs = replace(
        hs,
        services=[*hs.services, *_services()],
        stock=[*hs.stock, StockLevel(SITE, "valve", "Valve", 0, 0, 0, 5)],
        authorizations=[
            *hs.authorizations,
            Authorization(
                AuthorizationId("auth-p4"),
                PatientId("p4"),
                ServiceId("svc_auth"),
                "Synthetic Payer",
                AuthorizationStatus.PENDING,
                None,
                None,
                "R4",
            ),
        ],
    )
    engine = make_engine(url)
    load_health_system(engine, hs, replace=True)
    engine.dispose()
    notifier = FakeNotifier()
    app = bootstrap(
        load_settings(database_url=url, environment="test", workflow_poll_seconds=0.1), notifier=notifier
    )
    start_workflows(app.settings, "test-executor")
    yield World(app, notifier, url)
    stop_workflows()
    app.dispose()


def _start(world: World, patient: str, service: str = "svc_lap", days: tuple[int, int] = (1, 20)) -> str:
    now = datetime.now(UTC)
    request = CaseRequest(
        SURGEON,
        service,
        patient,
        now + timedelta(days=days[0]),
        now + timedelta(days=days[1]),
        Urgency.ROUTINE,
        (SITE,),
    )
    return cases.start_case(request, COORDINATOR, world.app.workflows).id


def _until(world: World, case_id: str, *statuses: str, seconds: float = 20) -> cases.CaseView:
    """The case once it is in one of ``statuses`` (``booked``: once its workflow finished)."""
    deadline = time.monotonic() + seconds
    while True:
        view = cases.get_case(case_id, COORDINATOR, world.app.workflows)
        finished = view.case.status != "booked" or view.workflow_status == "SUCCESS"
        if view.case.status in statuses and finished:
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"case {case_id} is {view.case.status} at {view.case.step}, not {statuses}")
        time.sleep(0.05)


def _bookings(world: World, patient: str) -> list[Any]:
    with world.app.engine.connect() as conn:
        return list(
            conn.execute(select(booking.c.id, booking.c.status).where(booking.c.patient_id == patient))
        )


def _tick(world: World) -> None:
    asyncio.run(world.app.events.tick())


def test_a_case_with_everything_in_place_books_at_once_and_notifies_once(world: World) -> None:
    case_id = _start(world, "p0")
    view = _until(world, case_id, "booked")
    assert [s["step"] for s in view.case.steps] == ["card", "hold.0", "book", "notify"]
    assert view.case.booking_id is not None and view.tasks == [] and view.purchase_requests == []
    assert _bookings(world, "p0") == [(view.case.booking_id, "booked")]
    assert view.workflow_status == "SUCCESS"
    sent = [n for n in world.notifier.sent if n.data.get("case_id") == case_id]
    assert sorted((n.audience, n.recipient) for n in sent) == [("patient", "p0"), ("team", "perioperative")]
    with world.app.engine.connect() as conn:
        actions = set(
            conn.execute(select(audit_log.c.action).where(audit_log.c.entity_id == case_id)).scalars()
        )
    assert {"case.start", "case.card", "case.hold", "case.book", "case.notify"} <= actions


def test_incomplete_preparation_holds_asks_the_nurse_and_books_on_prep_done(world: World) -> None:
    case_id = _start(world, "p3", "svc_prep")
    view = _until(world, case_id, "waiting")
    assert view.case.waiting_for == ["prep"] and view.case.hold_id is not None
    view = _wait_for_task(world, case_id, "prep_incomplete")
    assert view.tasks[0]["owner_team"] == "preadmission_nursing" and view.tasks[0]["status"] == "open"
    assert _bookings(world, "p3") == [(view.case.hold_id, "held")]
    cases.signal_case(case_id, "prep_done", NURSE, world.app.workflows)
    view = _until(world, case_id, "booked")
    assert view.case.prep_confirmed_by == NURSE.id and view.tasks[0]["status"] == "resolved"
    assert _bookings(world, "p3") == [(view.case.booking_id, "booked")]


def _wait_for_task(world: World, case_id: str, category: str) -> cases.CaseView:
    deadline = time.monotonic() + 20
    while True:
        view = cases.get_case(case_id, COORDINATOR, world.app.workflows)
        if any(t["category"] == category for t in view.tasks):
            return view
        assert time.monotonic() < deadline, f"no {category} task: {view.case}"
        time.sleep(0.05)


def test_a_pending_authorization_asks_revenue_cycle_and_the_approval_event_books_the_case(
    world: World,
) -> None:
    case_id = _start(world, "p4", "svc_auth")
    view = _wait_for_task(world, case_id, "authorization_pending")
    assert view.case.status == "waiting" and view.case.waiting_for == ["authorization"]
    assert view.tasks[0]["owner_team"] == "revenue_cycle" and _bookings(world, "p4") == []
    with world.app.deps.uow(write=True) as uow:  # the payer approves (what ingest writes)
        uow.connection.execute(
            update(authorization)
            .where(authorization.c.id == "auth-p4")
            .values(  # type: ignore[attr-defined]
                status="approved", valid_from=date.today(), valid_to=date.today() + timedelta(days=90)
            )
        )
        uow.publish(
            [AuthorizationChanged("auth-p4", "p4", "svc_auth", "approved", "pending", source="payer")]
        )
        uow.commit()
    _tick(world)
    view = _until(world, case_id, "booked")
    assert [t["status"] for t in view.tasks] == ["resolved"]
    assert any(
        s["step"].startswith("signal.") and s["kind"] == "authorization_changed" for s in view.case.steps
    )


def test_a_short_implant_orders_plans_past_the_lead_time_and_books_when_stock_arrives(world: World) -> None:
    case_id = _start(world, "p5", "svc_valve", days=(1, 40))
    view = _wait_for_task(world, case_id, "implant_short")
    assert view.case.status == "waiting" and view.case.waiting_for == ["stock"]
    assert view.tasks[0]["owner_team"] == "procurement"
    [purchase] = view.purchase_requests
    assert (purchase["site_id"], purchase["sku"], purchase["quantity"], purchase["status"]) == (
        SITE,
        "valve",
        1,
        "open",
    )
    order = next(s for s in view.case.steps if s["step"] == "order.0")
    assert order["rescheduled"] is True  # 5 days' lead time misses the first feasible day
    planned = datetime.fromisoformat(view.case.planned["start"])  # type: ignore[index]
    assert planned >= datetime.fromisoformat(purchase["expected_at"]) + timedelta(days=1)
    assert _bookings(world, "p5") == []
    # a false alarm: the case looks again, still short; the order's lead time keeps running
    cases.signal_case(case_id, "stock_arrived", COORDINATOR, world.app.workflows)
    deadline = time.monotonic() + 20
    while not any(s["step"] == "order.1" for s in view.case.steps):
        assert time.monotonic() < deadline, view.case.steps
        time.sleep(0.05)
        view = cases.get_case(case_id, COORDINATOR, world.app.workflows)
    assert view.purchase_requests == [purchase] and len(view.tasks) == 1
    with world.app.deps.uow(write=True) as uow:  # the delivery arrives (what ingest writes)
        uow.connection.execute(update(stock_item).where(stock_item.c.sku == "valve").values(on_hand=3))  # type: ignore[attr-defined]
        uow.publish([StockChanged(f"{SITE}/valve", SITE, "valve", 3, 0, 0, "erp")])
        uow.commit()
    _tick(world)
    view = _until(world, case_id, "booked")
    assert view.purchase_requests[0]["status"] == "received" and view.tasks[0]["status"] == "resolved"
    assert len(_bookings(world, "p5")) == 1


def test_a_lead_time_that_misses_the_whole_window_queues_the_case(world: World) -> None:
    with world.app.engine.begin() as conn:  # nothing left to reserve
        before = conn.execute(select(stock_item.c.on_hand).where(stock_item.c.sku == "mesh")).scalar_one()
        conn.execute(
            update(stock_item).where(stock_item.c.sku == "mesh").values(on_hand=stock_item.c.reserved)
        )
    try:
        case_id = _start(world, "p6", "svc_lap", days=(1, 4))  # mesh: 7 days' lead time
        view = _until(world, case_id, "needs_attention")
    finally:
        with world.app.engine.begin() as conn:
            conn.execute(update(stock_item).where(stock_item.c.sku == "mesh").values(on_hand=before))
    assert view.tasks[-1]["category"] == "implant_short" and view.tasks[-1]["owner_team"] == "perioperative"
    assert "lead time" in (view.case.last_error or "") or "arrive" in (view.case.last_error or "")
    assert _bookings(world, "p6") == []


def test_bad_requests_are_refused_with_the_field_and_nothing_is_written(world: World) -> None:
    from careflow.domain.errors import InvalidRequest

    now = datetime.now(UTC)
    with world.app.engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM surgical_case")).scalar()
    for field, request in [
        ("surgeon_id", CaseRequest("or1", "svc_lap", "p7", now, now + timedelta(days=3))),
        ("service_id", CaseRequest(SURGEON, "svc_nope", "p7", now, now + timedelta(days=3))),
        ("patient_id", CaseRequest(SURGEON, "svc_lap", "nobody", now, now + timedelta(days=3))),
        ("site_ids", CaseRequest(SURGEON, "svc_lap", "p7", now, now + timedelta(days=3), site_ids=("s9",))),
    ]:
        with pytest.raises(InvalidRequest) as caught:
            cases.start_case(request, COORDINATOR, world.app.workflows)
        assert caught.value.field == field
    with pytest.raises(InvalidRequest):
        CaseRequest(SURGEON, "svc_lap", "p7", now, now - timedelta(days=1))
    with world.app.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM surgical_case")).scalar() == before


def test_an_option_that_needs_an_override_goes_to_a_person(world: World) -> None:
    with world.app.engine.begin() as conn:  # one mesh would take the site below its reorder point (2)
        before = conn.execute(select(stock_item.c.on_hand).where(stock_item.c.sku == "mesh")).scalar_one()
        conn.execute(
            update(stock_item).where(stock_item.c.sku == "mesh").values(on_hand=stock_item.c.reserved + 2)
        )
    try:
        case_id = _start(world, "p8", "svc_lap")
        view = _until(world, case_id, "needs_attention")
    finally:
        with world.app.engine.begin() as conn:
            conn.execute(update(stock_item).where(stock_item.c.sku == "mesh").values(on_hand=before))
    queued = next(s for s in view.case.steps if s["step"] == "queued")
    assert queued["codes"] == ["STOCK_BELOW_THRESHOLD"] and "override" in (view.case.last_error or "")
    assert view.tasks[-1]["owner_team"] == "perioperative" and _bookings(world, "p8") == []
