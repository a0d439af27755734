"""Shared fixtures: real databases (a SQLite file per test; PostgreSQL wiped per test) and
a tiny synthetic health system (one site; no real patient data anywhere).

The tiny system's ids are plain strings tests may spell out: site ``s1`` (New York
time), room ``or1``, surgeon ``dr1``, pool ``nurses`` (3), laparoscope ``scope1``, bed
``bed1``, services ``svc_lap`` (room + surgeon + 1 ``mesh``) and ``svc_full``, patients
``p0``, ``p1``, ...; everything is on duty 06:00-22:00 local every day.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlalchemy import Engine

from careflow.domain.calendars import Availability, CalendarException, ExceptionKind, WeeklyBlock
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import AuthorizationId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.patients import Authorization, AuthorizationStatus, Patient, Preferences
from careflow.domain.preference_cards import (
    BedRequirement,
    EquipmentRequirement,
    ItemRequirement,
    PrepItem,
    Prerequisites,
    RoleRequirement,
    RoomRequirement,
    Service,
    ServiceKind,
    StaffRequirement,
)
from careflow.domain.resources import (
    BedProfile,
    ClinicianProfile,
    Credential,
    EquipmentProfile,
    Resource,
    ResourceKind,
    RoomProfile,
    StaffPoolProfile,
)
from careflow.domain.sites import Position, Site, SiteKind
from careflow.domain.stock import StockLevel

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

SITE = SiteId("s1")
ROOM, SURGEON = ResourceId("or1"), ResourceId("dr1")
SERVICE = ServiceId("svc_lap")


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    """A fresh SQLite file (not yet migrated)."""
    return f"sqlite:///{os.fspath(tmp_path)}/careflow.db"


def _admin(url: str) -> Any:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(plain, autocommit=True, connect_timeout=5)


def _with_search_path(url: str, schema: str) -> str:
    """``url`` whose sessions see only ``schema`` (default operator classes, such as
    btree_gist's installed in ``public``, are found whatever the search path)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose sessions use a fresh, empty schema (dropped afterwards), so
    tests never see each other's tables, even under ``pytest -n`` or beside other runs."""
    url = os.environ.get("CAREFLOW_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    schema = f"cf_test_{uuid.uuid4().hex[:12]}"
    try:
        with _admin(url) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:  # any failure to connect means "not reachable"
        message = (f"PostgreSQL not reachable at {url}; set CAREFLOW_TEST_POSTGRES_URL "
                   f"({type(exc).__name__}: {exc})")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield _with_search_path(url, schema)
    finally:
        with _admin(url) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


@pytest.fixture
def nats_url() -> str:
    """The NATS server (with JetStream) the event tests use; each test makes its own stream."""
    import socket
    from urllib.parse import urlsplit

    url = os.environ.get("CAREFLOW_TEST_NATS_URL", DEFAULT_NATS_URL)
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=3).close()
    except OSError as exc:
        message = (f"NATS not reachable at {url}; start nats-server -js or set CAREFLOW_TEST_NATS_URL "
                   f"({type(exc).__name__}: {exc})")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated, empty database on the engine careflow would use."""
    from careflow.adapters.db import make_engine, migrate

    migrate(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


# --- a tiny synthetic health system ------------------------------------------------------

EVERY_DAY = frozenset(range(7))
DAYTIME = Availability((WeeklyBlock(EVERY_DAY, time(6), time(22)),))


def tiny_system(patients: int = 3, mesh_on_hand: int = 5) -> HealthSystem:
    """One site with an OR, a surgeon, a nurse pool, a laparoscope and a bed; one surgical
    service needing the room and the surgeon (and one mesh); synthetic patients."""
    site = Site(SITE, "Synthetic General", SiteKind.HOSPITAL, "America/New_York",
                Position(40.0, -75.0), frozenset({"en", "es"}))
    closed = CalendarException(datetime(2030, 2, 1, tzinfo=UTC), datetime(2030, 2, 2, tzinfo=UTC),
                               ExceptionKind.VACATION, None, "synthetic leave")
    resources = [
        Resource(ROOM, SITE, ResourceKind.ROOM, "OR 1",
                 RoomProfile("operating", frozenset({"laparoscopy"}), "periop"), DAYTIME),
        Resource(SURGEON, SITE, ResourceKind.CLINICIAN, "Surgeon A",
                 ClinicianProfile("surgeon", frozenset({"general"}), frozenset({"lap_chole"}),
                                  (Credential("license", date(2040, 1, 1)),), frozenset({"en"})),
                 Availability(DAYTIME.blocks, (closed,))),
        Resource(ResourceId("nurses"), SITE, ResourceKind.STAFF_POOL, "Pre-op nurses",
                 StaffPoolProfile("preop_nurse", frozenset({"es"}), frozenset({"iv"})),
                 Availability((WeeklyBlock(EVERY_DAY, time(6), time(22), capacity=3),)),
                 capacity=3),
        Resource(ResourceId("scope1"), SITE, ResourceKind.EQUIPMENT, "Laparoscope 1",
                 EquipmentProfile("laparoscope", True, None, 30), DAYTIME),
        Resource(ResourceId("bed1"), SITE, ResourceKind.BED, "4W-1",
                 BedProfile("4W", "surgical", "any", True),
                 Availability((WeeklyBlock(EVERY_DAY, time(0), time(12)),
                               WeeklyBlock(EVERY_DAY, time(12), time(0))))),
    ]
    services = [
        Service(SERVICE, "LAPCHOLE", "Laparoscopic cholecystectomy", ServiceKind.SURGERY, 60,
                "general", 15, 15, roles=(RoleRequirement("surgeon", "surgeon", 1, "general",
                                                          "lap_chole"),),
                room=RoomRequirement("operating", frozenset({"laparoscopy"})),
                items=(ItemRequirement("mesh", 1),)),
        Service(ServiceId("svc_full"), "FULL", "Everything on the card", ServiceKind.PROCEDURE, 90,
                None, 10, 20, roles=(RoleRequirement("surgeon", "surgeon"),),
                staff=(StaffRequirement("preop_nurse", 2),),
                room=RoomRequirement("operating"),
                equipment=(EquipmentRequirement("laparoscope"),),
                items=(ItemRequirement("mesh", 2),),
                prerequisites=Prerequisites(True, (PrepItem("labs", 3),), True),
                bed=BedRequirement("surgical", 24), site_kinds=frozenset({SiteKind.HOSPITAL}),
                slot_minutes=30),
    ]
    people = [
        Patient(PatientId(f"p{i}"), f"MRN{i:04d}", f"Synthetic Patient {i}", date(1970 + i, 1, 2),
                "female" if i % 2 else "male", "es" if i == 2 else "en", i == 2,
                Position(40.1, -75.1) if i == 1 else None,
                Preferences(frozenset({0, 2}), "morning", frozenset({SITE}), frozenset({SURGEON}),
                            25.0) if i == 1 else Preferences(),
                i == 1, {"labs": date(2029, 12, 20)} if i == 1 else {},
                frozenset({SURGEON}) if i == 1 else frozenset())
        for i in range(patients)
    ]
    auths = [Authorization(AuthorizationId("auth1"), PatientId("p1"), ServiceId("svc_full"),
                           "Synthetic Payer", AuthorizationStatus.APPROVED, date(2030, 1, 1),
                           date(2030, 6, 30), "REF-1")]
    stock = [StockLevel(SITE, "mesh", "Surgical mesh", mesh_on_hand, 0, 2, 7)]
    return HealthSystem("tiny", [site], resources, services, stock, people, auths, [])


@pytest.fixture
def tiny() -> Callable[..., HealthSystem]:
    """Builds the tiny synthetic health system (``patients=``, ``mesh_on_hand=``)."""
    return tiny_system


# --- leaving when the session is done --------------------------------------------------
# DBOS runs workflows on non-daemon threads, and a workflow waiting on a durable timer
# (DBOS.recv or DBOS.sleep with a timeout of hours) keeps its thread after DBOS.destroy();
# the interpreter would join it at exit, and atexit handlers (DBOS's, multiprocessing's,
# the thread pools') can wait on them too. One CI run printed its summary, all passed, and
# then hung until CI's limit. So once the summary is printed the session leaves with its exit
# status, naming what it left behind; and should anything after the summary hang before that
# (another plugin's teardown), a watchdog prints every thread's stack and leaves anyway.
_EXIT_STATUS: list[int] = []
_WATCHDOG_SECONDS = 120.0


def _leave(status: int, why: str) -> None:
    import sys
    import threading

    lingering = sorted(t.name for t in threading.enumerate()
                       if t is not threading.main_thread() and t.is_alive() and not t.daemon)
    if lingering:
        print(f"\n{why}; left behind: {len(lingering)} non-daemon thread(s): {', '.join(lingering[:8])}",
              file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _watchdog() -> None:
    import faulthandler
    import sys

    print(f"\nthe session did not end {_WATCHDOG_SECONDS:.0f} s after its summary; stacks:", file=sys.stderr)
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    _leave(_EXIT_STATUS[-1] if _EXIT_STATUS else 1, "watchdog")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import threading

    _EXIT_STATUS.append(int(exitstatus))
    if not hasattr(session.config, "workerinput"):
        timer = threading.Timer(_WATCHDOG_SECONDS, _watchdog)
        timer.daemon = True
        timer.start()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _EXIT_STATUS and not hasattr(config, "workerinput"):
        _leave(_EXIT_STATUS[-1], "session done")
