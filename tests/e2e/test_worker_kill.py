"""Fault (issue 4): ``kill -9`` of the worker mid-workflow, on SQLite and on PostgreSQL.

A real ``careflow worker`` process runs a surgical case whose patient's preparation is
incomplete: it reads the card, holds the best option, asks pre-admission nursing and
waits. The worker is killed with SIGKILL; the nurse's ``prep_done`` arrives while it is
dead; a new worker with the same executor id resumes the workflow: the finished steps
are not run again (one card read, one hold, one task in the audit trail), the case books
exactly once, and every notification is sent once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.adapters.db.tables import audit_log, booking, exception_item, notification, surgical_case
from careflow.bootstrap import bootstrap
from careflow.config import load_settings
from careflow.domain.access import Actor
from careflow.domain.ids import ServiceId
from careflow.domain.preference_cards import (
    PrepItem,
    Prerequisites,
    RoleRequirement,
    RoomRequirement,
    Service,
    ServiceKind,
)
from careflow.domain.surgical_cases import CaseRequest
from careflow.services import surgical_cases as cases
from careflow.services.workflows import runtime
from tests.conftest import DEFAULT_POSTGRES_URL, SITE, SURGEON, _admin, tiny_system

COORDINATOR = Actor("coord-1", frozenset({"perioperative_coordinator"}))
NURSE = Actor("nurse-7", frozenset({"perioperative_coordinator"}))
PREP_SERVICE = Service(
    ServiceId("svc_prep"),
    "LAPPREP",
    "Case with preparation",
    ServiceKind.SURGERY,
    60,
    "general",
    15,
    15,
    roles=(RoleRequirement("surgeon", "surgeon", 1, "general", "lap_chole"),),
    room=RoomRequirement("operating", frozenset({"laparoscopy"})),
    prerequisites=Prerequisites(False, (PrepItem("labs", 1),)),
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(careflow database URL, environment for the worker) on SQLite or PostgreSQL; on
    PostgreSQL the DBOS tables go to a schema of their own, dropped afterwards."""
    env = {"CAREFLOW_NOTIFY_FILE": str(tmp_path / "notifications.jsonl")}
    if request.param == "sqlite":
        yield str(request.getfixturevalue("sqlite_url")), env
        return
    url = str(request.getfixturevalue("postgres_url"))
    schema = f"dbos_kill_{uuid.uuid4().hex[:10]}"
    yield url, {**env, "CAREFLOW_WORKFLOW_SCHEMA": schema}
    with _admin(os.environ.get("CAREFLOW_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _worker(url: str, env: dict[str, str], log: Path, executor: str = "worker-1") -> subprocess.Popen[bytes]:
    full = {
        **os.environ,
        **env,
        "CAREFLOW_DATABASE_URL": url,
        "CAREFLOW_WORKFLOW_POLL_SECONDS": "0.1",
        "CAREFLOW_ENVIRONMENT": "test",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "careflow.cli", "worker", "--executor-id", executor, "--interval", "0.2"],
        env=full,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _wait(what: str, check: Any, proc: subprocess.Popen[bytes], log: Path, seconds: float = 90) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited ({proc.returncode}) before {what}:\n{log.read_text()}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def test_kill_9_mid_workflow_resumes_without_repeating_steps(
    target: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = target
    migrate(url)
    engine = make_engine(url)
    hs = tiny_system(patients=3)
    load_health_system(engine, replace(hs, services=[*hs.services, PREP_SERVICE]), replace=True)
    for key, value in env.items():  # this process starts and signals through the same workflow database
        os.environ[key] = value
    try:
        app = bootstrap(load_settings(database_url=url, environment="test"), migrate=False)
    finally:
        for key in env:
            os.environ.pop(key)
    log = tmp_path / "worker.log"
    first = _worker(url, env, log)
    try:
        _wait("the worker to start", lambda: "running" in log.read_text(), first, log)
        now = datetime.now(UTC)
        request = CaseRequest(
            SURGEON, "svc_prep", "p0", now + timedelta(days=2), now + timedelta(days=12), site_ids=(SITE,)
        )
        case_id = cases.start_case(request, COORDINATOR, app.workflows).id

        def waiting_with_task() -> bool:  # the task raised, and DBOS has recorded that step
            view = cases.get_case(case_id, COORDINATOR, app.workflows)
            return (
                view.case.status == "waiting"
                and bool(view.tasks)
                and "case.raise_tasks" in runtime.workflow_steps(case_id)
            )

        _wait("the case to hold and wait for the nurse", waiting_with_task, first, log)
        first.send_signal(signal.SIGKILL)  # kill -9, mid-workflow
        assert first.wait(10) == -signal.SIGKILL
        cases.signal_case(case_id, "prep_done", NURSE, app.workflows)  # arrives while no worker runs
        time.sleep(0.5)
        assert cases.get_case(case_id, COORDINATOR, app.workflows).case.status == "waiting"

        second = _worker(url, env, log)
        try:
            view = _wait("the resumed case to book", lambda: _booked(app, case_id), second, log)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    assert view.case.prep_confirmed_by == NURSE.id and view.workflow_status == "SUCCESS"
    with engine.connect() as conn:
        rows = conn.execute(select(booking.c.id, booking.c.status).where(booking.c.patient_id == "p0")).all()
        actions = conn.execute(
            select(audit_log.c.action, func.count())
            .where(audit_log.c.entity_id == case_id)
            .group_by(audit_log.c.action)
        ).all()
        tasks = conn.execute(
            select(func.count()).select_from(exception_item).where(exception_item.c.case_id == case_id)
        ).scalar_one()
        keys = conn.execute(
            select(notification.c.key).where(notification.c.key.like(f"{case_id}:%"))
        ).scalars()
        sent_keys = sorted(keys)
        status = conn.execute(
            select(surgical_case.c.status).where(surgical_case.c.id == case_id)
        ).scalar_one()
    assert status == "booked"
    assert rows == [(view.case.booking_id, "booked")], "exactly one booking, no stray hold"
    counts = dict(actions)
    assert counts["case.card"] == 1 and counts["case.hold"] == 1 and counts["case.tasks"] == 1, counts
    assert counts["case.book"] == 1 and counts["case.notify"] == 1, counts
    assert tasks == 1
    lines = [json.loads(line) for line in Path(env["CAREFLOW_NOTIFY_FILE"]).read_text().splitlines()]
    mine = [doc["key"] for doc in lines if doc["key"].startswith(case_id)]
    assert sorted(mine) == sent_keys and len(mine) == len(set(mine)) == 3, mine  # task, patient, team
    app.dispose()
    engine.dispose()


def _booked(app: Any, case_id: str) -> cases.CaseView | None:
    view = cases.get_case(case_id, COORDINATOR, app.workflows)
    return view if view.case.status == "booked" and view.workflow_status == "SUCCESS" else None


PATIENTS = (0, 3, 4, 5, 6, 7)  # p1 and p2 have preferences and an interpreter need of their own


@pytest.mark.postgres
def test_two_workers_share_the_queue_and_each_case_books_once(postgres_url: str, tmp_path: Path) -> None:
    """Two ``careflow worker`` processes with their own executor ids on one PostgreSQL
    database: every case is run by one of them, and books once."""
    schema = f"dbos_two_{uuid.uuid4().hex[:10]}"
    env = {"CAREFLOW_NOTIFY_FILE": str(tmp_path / "notifications.jsonl"), "CAREFLOW_WORKFLOW_SCHEMA": schema}
    migrate(postgres_url)
    engine = make_engine(postgres_url)
    load_health_system(engine, tiny_system(patients=8, mesh_on_hand=50), replace=True)
    os.environ.update(env)
    try:
        app = bootstrap(load_settings(database_url=postgres_url, environment="test"), migrate=False)
    finally:
        for key in env:
            os.environ.pop(key)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [_worker(postgres_url, env, logs[0]), _worker(postgres_url, env, logs[1], "worker-b")]
    try:
        for proc, log in zip(procs, logs, strict=True):
            _wait("the worker to start", lambda log=log: "running" in log.read_text(), proc, log)
        now = datetime.now(UTC)
        ids = [
            cases.start_case(
                CaseRequest(
                    SURGEON,
                    "svc_lap",
                    f"p{i}",
                    now + timedelta(days=1),
                    now + timedelta(days=20),
                    site_ids=(SITE,),
                ),
                COORDINATOR,
                app.workflows,
            ).id
            for i in PATIENTS
        ]

        def all_booked() -> bool:
            return all(_booked(app, case_id) is not None for case_id in ids)

        try:
            _wait("every case to book", all_booked, procs[0], logs[0], 60)
        except AssertionError as exc:
            states = [(v.case.status, v.case.steps[-1], v.case.last_error, v.workflow_status)
                      for v in (cases.get_case(i, COORDINATOR, app.workflows) for i in ids)]
            raise AssertionError(f"{states}\n{logs[1].read_text()[-2000:]}") from exc
        executors = {str(w.executor_id) for w in runtime._dbos_client().list_workflows(workflow_ids=ids)}
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
        app.dispose()
        with _admin(os.environ.get("CAREFLOW_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert executors <= {"worker-1", "worker-b"} and executors
    with engine.connect() as conn:
        rows = conn.execute(select(booking.c.patient_id, booking.c.status)).all()
    engine.dispose()
    assert sorted(rows) == [(f"p{i}", "booked") for i in PATIENTS]
