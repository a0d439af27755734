"""A small synthetic network for the referral and imaging-readiness workflows, and a
harness that runs them on DBOS (a SQLite system database in the test's directory).

Everything is open around the clock (the workflows' timers are real seconds, so tests
book a few seconds ahead, whatever the time of day). Sites: clinics ``north`` and
``south`` (about 55 km apart) and hospital ``hosp``. Cardiologists ``dr_n`` (north) and
``dr_s`` (south) in exam rooms; a CT room with a technologist pool at the hospital.
Services: ``svc_cardio`` (a cardiology visit) and ``svc_ct`` (CT with contrast: prep
``contrast-labs`` and ``prep-instructions``). Patients ``p1`` (lives by north), ``p2``
(lives by south), ``p3`` (home unknown). No real patient data anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.adapters.db.referral_store import referrals_of
from careflow.bootstrap import App, bootstrap
from careflow.config import load_settings
from careflow.domain.calendars import Availability, CalendarException, ExceptionKind, WeeklyBlock
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.patients import Patient
from careflow.domain.preference_cards import (
    PrepItem,
    Prerequisites,
    RoleRequirement,
    RoomRequirement,
    Service,
    ServiceKind,
    StaffRequirement,
)
from careflow.domain.readiness import ReadinessPolicy
from careflow.domain.referrals import ReferralPolicy
from careflow.domain.resources import (
    ClinicianProfile,
    Credential,
    Resource,
    ResourceKind,
    RoomProfile,
    StaffPoolProfile,
)
from careflow.domain.sites import Position, Site, SiteKind
from careflow.services.referrals import ReferralDeps
from careflow.services.workflows import care_paths, runtime
from tests.fakes import FakeNotifier

EVERY_DAY = frozenset(range(7))
ALWAYS = Availability((WeeklyBlock(EVERY_DAY, time(0), time(12)), WeeklyBlock(EVERY_DAY, time(12), time(0))))
CLINIC = frozenset({SiteKind.CLINIC})


def _always(capacity: int = 1) -> Availability:
    return Availability(tuple(WeeklyBlock(EVERY_DAY, b.start, b.end, capacity=capacity)
                              for b in ALWAYS.blocks))


def _cardiologist(rid: str, site: str, away_days: float = 0) -> Resource:
    now = datetime.now(UTC)
    away = ((CalendarException(now - timedelta(days=1), now + timedelta(days=away_days),
                               ExceptionKind.VACATION, None, "synthetic leave"),) if away_days else ())
    return Resource(ResourceId(rid), SiteId(site), ResourceKind.CLINICIAN, f"Cardiologist {rid}",
                    ClinicianProfile("physician", frozenset({"cardiology"}), frozenset(),
                                     (Credential("license", date(2099, 1, 1)),)),
                    Availability(ALWAYS.blocks, away))


def network(north_away_days: float = 0) -> HealthSystem:
    """The network; ``north_away_days`` keeps north's cardiologist away that long from now."""
    zone = "America/New_York"
    sites = [Site(SiteId("north"), "North Clinic", SiteKind.CLINIC, zone, Position(40.0, -75.0)),
             Site(SiteId("south"), "South Clinic", SiteKind.CLINIC, zone, Position(40.5, -75.0)),
             Site(SiteId("hosp"), "Synthetic Hospital", SiteKind.HOSPITAL, "America/New_York",
                  Position(40.2, -75.3))]
    resources = [
        Resource(ResourceId("exam_n"), SiteId("north"), ResourceKind.ROOM, "Exam N", RoomProfile("exam"),
                 ALWAYS),
        Resource(ResourceId("exam_s"), SiteId("south"), ResourceKind.ROOM, "Exam S", RoomProfile("exam"),
                 ALWAYS),
        _cardiologist("dr_n", "north", north_away_days),
        _cardiologist("dr_s", "south"),
        Resource(ResourceId("ct1"), SiteId("hosp"), ResourceKind.ROOM, "CT 1", RoomProfile("ct"), ALWAYS),
        Resource(ResourceId("ct_techs"), SiteId("hosp"), ResourceKind.STAFF_POOL, "CT technologists",
                 StaffPoolProfile("ct-tech"), _always(2), capacity=2),
    ]
    services = [
        Service(ServiceId("svc_cardio"), "CARDIO-NEW", "Cardiology new patient visit", ServiceKind.VISIT, 30,
                "cardiology", roles=(RoleRequirement("clinician", "physician", 1, "cardiology"),),
                room=RoomRequirement("exam"), site_kinds=CLINIC, slot_minutes=10),
        Service(ServiceId("svc_ct"), "CT-ABD", "CT abdomen with contrast", ServiceKind.IMAGING, 20,
                "radiology", staff=(StaffRequirement("ct-tech"),), room=RoomRequirement("ct"),
                prerequisites=Prerequisites(prep=(PrepItem("contrast-labs", 0),
                                                  PrepItem("prep-instructions", 0))),
                slot_minutes=5),
    ]
    patients = [
        Patient(PatientId("p1"), "MRN-P1", "Synthetic Patient One", date(1970, 1, 1),
                home=Position(40.01, -75.0)),
        Patient(PatientId("p2"), "MRN-P2", "Synthetic Patient Two", date(1980, 1, 1),
                home=Position(40.49, -75.0)),
        Patient(PatientId("p3"), "MRN-P3", "Synthetic Patient Three", date(1990, 1, 1)),
    ]
    return HealthSystem("care-paths", sites, resources, services, [], patients, [], [])


FAST_REFERRALS = ReferralPolicy(choice_timeout=timedelta(seconds=60), poll=timedelta(seconds=0.5))
SHORT_CHOICE = ReferralPolicy(choice_timeout=timedelta(seconds=2), poll=timedelta(seconds=0.5))


@dataclass
class Harness:
    app: App
    notifier: Any  # FakeNotifier, or FileNotifier across processes
    url: str

    @property
    def referrals(self) -> ReferralDeps:
        return care_paths.referral_deps()


def seed(tmp: Path, db_url: str | None = None, north_away_days: float = 0) -> str:
    url = db_url or f"sqlite:///{tmp / 'careflow.db'}"
    migrate(url)
    engine = make_engine(url)
    load_health_system(engine, network(north_away_days), replace=False)
    engine.dispose()
    return url


def system_database(tmp: Path, db_url: str) -> runtime.SystemDatabase:
    """DBOS's own tables: a SQLite file beside the test's database, or a schema of its PostgreSQL."""
    if db_url.startswith("sqlite"):
        return runtime.SystemDatabase(f"sqlite:///{tmp / 'dbos.sqlite'}")
    schema = db_url.rsplit("search_path%3D", 1)[-1]
    return runtime.SystemDatabase(db_url.split("?")[0], f"{schema}_dbos")


def configure(url: str, tmp: Path, notifier: Any, referral_policy: ReferralPolicy = FAST_REFERRALS,
              readiness_policy: ReadinessPolicy | None = None) -> App:
    app = bootstrap(load_settings(database_url=url, environment="test"), migrate=False)
    runtime.configure(runtime.WorkflowDeps(app.deps, notifier))
    care_paths.configure(care_paths.CarePathDeps(referrals_of, referral_policy,
                                                 readiness_policy or ReadinessPolicy()))
    runtime.set_system_database(system_database(tmp, url))
    return app


@contextmanager
def running(url: str, tmp: Path, notifier: Any = None, executor: str = "test-executor",
            referral_policy: ReferralPolicy = FAST_REFERRALS,
            readiness_policy: ReadinessPolicy | None = None) -> Iterator[Harness]:
    """DBOS launched in this process over the database at ``url``, stopped afterwards."""
    notifier = notifier or FakeNotifier()
    app = configure(url, tmp, notifier, referral_policy, readiness_policy)
    runtime.launch(executor, poll_seconds=0.1)
    try:
        yield Harness(app, notifier, url)
    finally:
        runtime.shutdown()
        app.dispose()
        drop_system_schema(url, tmp)


def drop_system_schema(url: str, tmp: Path) -> None:
    """On PostgreSQL, DBOS's schema beside the test's own (which its fixture drops)."""
    if url.startswith("postgres"):
        import psycopg

        system = system_database(tmp, url)
        with psycopg.connect(system.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{system.schema}" CASCADE')


def option_at(app: App, patient: str, start: datetime, service_id: str = "svc_ct") -> Any:
    """An option for ``service_id`` (a CT at the hospital, or ``svc_cardio`` at north)."""
    from careflow.domain.options import Assignment, Option, build_allocations

    with app.deps.uow() as uow:
        catalog = app.deps.catalogs.get(uow)
    service = catalog.service(service_id)
    if service_id == "svc_ct":
        site, chosen = "hosp", [Assignment("room", ResourceId("ct1")),
                                Assignment("ct-tech", ResourceId("ct_techs"))]
    else:
        site, chosen = "north", [Assignment("room", ResourceId("exam_n")),
                                 Assignment("clinician", ResourceId("dr_n"))]
    end, allocations = build_allocations(service, service.needs(None), start, chosen, catalog.resources)
    return Option(service.id, PatientId(patient), SiteId(site), start, end, allocations)


def option_of(app: App, booking_id: str, start: datetime) -> Any:
    """The booking's service, patient and resources at another ``start`` (to reschedule)."""
    with app.deps.uow() as uow:
        booking = uow.bookings.get(booking_id)
    assert booking is not None
    return option_at(app, booking.patient_id, start, booking.service_id)


def book_ct(app: App, patient: str, seconds_ahead: float, service_id: str = "svc_ct") -> str:
    """Book ``service_id`` for ``patient`` ``seconds_ahead`` from now, confirmed as a
    scheduler would (its ``BookingConfirmed`` event is in the outbox)."""
    from careflow.domain.access import Actor
    from careflow.domain.commands import BookOption
    from careflow.services.booking import book_option

    start = (datetime.now(UTC) + timedelta(seconds=seconds_ahead)).replace(microsecond=0)
    option = option_at(app, patient, start, service_id)
    return book_option(BookOption(option, Actor("sched-1", frozenset({"scheduler"}))), app.deps).id


def record_prep(app: App, patient: str, *codes: str) -> None:
    """Record completed prep items on the patient, as the management API does."""
    from dataclasses import replace

    from careflow.adapters.db.master_admin import admin_store
    from careflow.domain.access import Actor
    from careflow.services import management

    deps = management.ManagementDeps(app.deps.uow, admin_store, app.deps.clock)
    nurse = Actor("imaging-nurse", frozenset({"integration_client"}))
    current = management.get_item(deps, nurse, management.PATIENT, (patient,))
    done = dict.fromkeys(codes, datetime.now(UTC).date())
    management.update_item(deps, nurse, management.PATIENT, (patient,), current.etag,
                           lambda p: replace(p, completed_prep={**p.completed_prep, **done}))


class FileNotifier:
    """A notifier two processes can share: each ask and each send is a JSON line in ``path``
    (a key is sent once, like the real send log)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _lines(self) -> list[dict[str, str]]:
        import json

        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def notify(self, notification: Any) -> bool:
        import json

        sent = any(x["what"] == "sent" and x["key"] == notification.key for x in self._lines())
        with self.path.open("a") as out:
            out.write(json.dumps({"what": "asked", "key": notification.key}) + "\n")
            if not sent:
                out.write(json.dumps({"what": "sent", "key": notification.key, "topic": notification.topic})
                          + "\n")
        return not sent

    def count(self, what: str, key_part: str) -> int:
        return sum(1 for x in self._lines() if x["what"] == what and key_part in x["key"])


def start_readiness(app: App, booking_id: str) -> str:
    """Start the booking's readiness workflow, as the ``BookingConfirmed`` handler does."""
    from careflow.services.workflows import imaging

    with app.deps.uow() as uow:
        booking = uow.bookings.get(booking_id)
    assert booking is not None
    return imaging.start(booking.id, booking.start.isoformat())
