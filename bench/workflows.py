"""bench/workflows.py: surgical case workflows per minute (SQLite, PostgreSQL), and the event
lag p99 through NATS JetStream.

Cases: a synthetic surgical site (``--rooms`` operating rooms, as many surgeons, mesh in
stock; no authorization or preparation needed, so each case runs card → find and hold
with its surgeon → book → notify) in a fresh database. ``--cases`` requests are started
at once through the real use case; DBOS runs them in this process (one executor, the
queue's threads) and the clock stops when the last is booked. Each case's five steps are
recorded by DBOS and in the case record, with their audit entries and notifications.
PostgreSQL uses the database ``careflow_wf_bench`` (dropped and created again).

Event lag: ``--events`` StockChanged events are written to the outbox at ``--rate`` per
second, in their own transactions, while the event pump relays them (every 20 ms) to a
JetStream stream of the benchmark's own and a durable consumer hands them to a handler
through the inbox; the lag is the handler's time minus the event's ``occurred_at``.

    .venv/bin/python bench/workflows.py [--cases 120] [--rooms 4] [--events 1000] [--rate 200]
                                        [--only sqlite|postgres|nats]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import psycopg

from _common import machine, percentile, report, sqlite_url
from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.adapters.events.nats import NatsTopology
from careflow.adapters.events.pump import build_pump
from careflow.adapters.workflows import start_workflows, stop_workflows
from careflow.bootstrap import bootstrap
from careflow.config import load_settings
from careflow.domain.access import Actor
from careflow.domain.bookings import Urgency
from careflow.domain.calendars import Availability, WeeklyBlock
from careflow.domain.events import StockChanged
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.patients import Patient
from careflow.domain.preference_cards import (
    ItemRequirement,
    RoleRequirement,
    RoomRequirement,
    Service,
    ServiceKind,
)
from careflow.domain.resources import ClinicianProfile, Credential, Resource, ResourceKind, RoomProfile
from careflow.domain.sites import Position, Site, SiteKind
from careflow.domain.stock import StockLevel
from careflow.domain.surgical_cases import CaseRequest
from careflow.services import surgical_cases as cases
from careflow.services.dispatch import HandlerRegistry

SITE = SiteId("wf-s1")
ACTOR = Actor("bench", frozenset({"perioperative_coordinator"}))
DAYTIME = Availability((WeeklyBlock(frozenset(range(7)), clock_time(6), clock_time(22)),))


def health_system(rooms: int, patients: int) -> HealthSystem:
    """One site with ``rooms`` operating rooms and as many surgeons; one surgical service."""
    site = Site(
        SITE,
        "Synthetic Surgical Center",
        SiteKind.HOSPITAL,
        "America/New_York",
        Position(40.0, -75.0),
        frozenset({"en"}),
    )
    resources: list[Resource] = []
    for i in range(rooms):
        resources.append(
            Resource(
                ResourceId(f"wf-or{i}"),
                SITE,
                ResourceKind.ROOM,
                f"OR {i}",
                RoomProfile("operating", frozenset({"laparoscopy"}), "periop"),
                DAYTIME,
            )
        )
        resources.append(
            Resource(
                ResourceId(f"wf-dr{i}"),
                SITE,
                ResourceKind.CLINICIAN,
                f"Surgeon {i}",
                ClinicianProfile(
                    "surgeon",
                    frozenset({"general"}),
                    frozenset({"lap_chole"}),
                    (Credential("license", date(2040, 1, 1)),),
                    frozenset({"en"}),
                ),
                DAYTIME,
            )
        )
    service = Service(
        ServiceId("wf-lap"),
        "WFLAP",
        "Laparoscopic case",
        ServiceKind.SURGERY,
        60,
        "general",
        15,
        15,
        roles=(RoleRequirement("surgeon", "surgeon", 1, "general", "lap_chole"),),
        room=RoomRequirement("operating", frozenset({"laparoscopy"})),
        items=(ItemRequirement("mesh", 1),),
    )
    people = [
        Patient(
            PatientId(f"wf-p{i}"),
            f"MRN-WF-{i}",
            f"Synthetic Patient {i}",
            date(1970, 1, 2),
            "female",
            "en",
            False,
        )
        for i in range(patients)
    ]
    stock = [StockLevel(SITE, "mesh", "Surgical mesh", 100_000, 0, 0, 7)]
    return HealthSystem("workflow-bench", [site], resources, [service], stock, people, [], [])


def postgres_url() -> str:
    """``careflow_wf_bench``, dropped and created again."""
    url = os.environ.get(
        "CAREFLOW_WF_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/careflow_wf_bench"
    )
    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    return url


def case_throughput(url: str, n: int, rooms: int) -> dict[str, Any]:
    """Start ``n`` surgical cases at once; cases per minute until the last is booked."""
    migrate(url)
    engine = make_engine(url)
    load_health_system(engine, health_system(rooms, n), replace=True)
    engine.dispose()
    for suffix in ("", "-wal", "-shm"):  # a fresh DBOS system database beside a SQLite file
        Path(f"{url.removeprefix('sqlite:///').removesuffix('.db')}.dbos.sqlite{suffix}").unlink(
            missing_ok=True
        )
    app = bootstrap(
        load_settings(
            database_url=url,
            workflow_poll_seconds=0.05,
            notify_file=str(Path("var/bench/notifications.jsonl")),
        )
    )
    start_workflows(app.settings, f"bench-{uuid.uuid4().hex[:6]}")
    try:
        now = datetime.now(UTC)
        began = time.perf_counter()
        ids = []
        for i in range(n):
            request = CaseRequest(
                f"wf-dr{i % rooms}",
                "wf-lap",
                f"wf-p{i}",
                now + timedelta(days=1),
                now + timedelta(days=90),
                Urgency.ROUTINE,
                (SITE,),
            )
            ids.append(cases.start_case(request, ACTOR, app.workflows).id)
        started = time.perf_counter() - began
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            booked = cases.list_cases(ACTOR, app.workflows, "booked", None, 0, 1)[1]
            attention = cases.list_cases(ACTOR, app.workflows, "needs_attention", None, 0, 1)[1]
            if booked + attention >= len(ids):
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - began
    finally:
        stop_workflows()
        app.dispose()
    return {
        "cases": n,
        "booked": booked,
        "needs_attention": attention,
        "seconds": round(seconds, 2),
        "start_seconds": round(started, 2),
        "per_minute": round(booked / seconds * 60, 1),
    }


def nats_lag(nats_url: str, events: int, rate: float) -> dict[str, Any]:
    """Outbox → JetStream → durable consumer → handler: the lag of each event."""
    import nats as nats_client

    url = sqlite_url("workflows_nats")
    migrate(url)
    tag = uuid.uuid4().hex[:8]
    topology = NatsTopology(stream=f"CF_WF_BENCH_{tag}", prefix=f"cfwfbench.{tag}", durable=f"bench-{tag}")
    app = bootstrap(load_settings(database_url=url))
    lags: list[float] = []
    lock = threading.Lock()

    def handler(payload: dict[str, Any], uow: Any) -> None:
        written = datetime.fromisoformat(str(payload["reference"]).split("@", 1)[1])
        lag = (datetime.now(UTC) - written).total_seconds()
        with lock:
            lags.append(lag)

    registry = HandlerRegistry()
    registry.register("StockChanged", "lag-probe", handler)
    pump = build_pump(app.engine, app.deps.uow, app.deps.clock, registry, nats_url, topology)

    def produce() -> None:
        interval = 1.0 / rate
        for i in range(events):
            at = datetime.now(UTC)
            with app.deps.uow(write=True) as uow:
                uow.publish(
                    [StockChanged(f"{SITE}/mesh", SITE, "mesh", i, i, 0, "bench", f"{i}@{at.isoformat()}")]
                )
                uow.commit()
            time.sleep(max(0.0, interval - (datetime.now(UTC) - at).total_seconds()))

    async def run() -> None:
        producer = threading.Thread(target=produce)
        producer.start()
        deadline = time.monotonic() + events / rate + 60
        while (len(lags) < events) and time.monotonic() < deadline:
            await pump.tick()
            await asyncio.sleep(0.02)
        producer.join()
        await pump.close()
        nc = await nats_client.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(topology.stream)
        finally:
            await nc.close()

    began = time.perf_counter()
    asyncio.run(run())
    seconds = time.perf_counter() - began
    app.dispose()
    ms = [x * 1000 for x in lags]
    return {
        "events": events,
        "delivered": len(lags),
        "rate_per_s": rate,
        "seconds": round(seconds, 2),
        "lag_p50_ms": round(percentile(ms, 0.5), 1),
        "lag_p99_ms": round(percentile(ms, 0.99), 1),
        "lag_max_ms": round(max(ms), 1) if ms else None,
    }


def _row(run: str, r: dict[str, Any]) -> dict[str, Any]:
    return {
        "run": run,
        "count": r["cases"],
        "done": r["booked"],
        "seconds": r["seconds"],
        "figure": f"{r['per_minute']} cases/min",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=120)
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--nats-url", default=os.environ.get("CAREFLOW_NATS_URL") or "nats://127.0.0.1:4222")
    parser.add_argument("--only", choices=("sqlite", "postgres", "nats"))
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine()}
    rows: list[dict[str, Any]] = []
    if args.only in (None, "sqlite"):
        result["sqlite"] = case_throughput(sqlite_url("workflows"), args.cases, args.rooms)
        rows.append(_row("cases, SQLite", result["sqlite"]))
    if args.only in (None, "postgres"):
        result["postgres"] = case_throughput(postgres_url(), args.cases, args.rooms)
        rows.append(_row("cases, PostgreSQL", result["postgres"]))
    if args.only in (None, "nats"):
        result["nats"] = r = nats_lag(args.nats_url, args.events, args.rate)
        rows.append(
            {
                "run": "event lag, NATS",
                "count": r["events"],
                "done": r["delivered"],
                "seconds": r["seconds"],
                "figure": f"p50 {r['lag_p50_ms']} ms, p99 {r['lag_p99_ms']} ms",
            }
        )
    report("surgical case workflows and event lag", rows, result)


if __name__ == "__main__":
    main()
