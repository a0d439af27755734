"""bench/recoordination.py: a clinician call-out that hits 200 bookings, fixed or queued.

The regional demo is loaded; the busiest ophthalmologist's calendar is topped up (real
bookings through the booking use case, every check) until exactly 200 of their booked
visits fall from one hour after the clock onwards. HR then reports a call-out covering all
200 (``services/ingest.resource_closed``, the same use case ``POST
/api/v1/events/ClinicianCalledOut`` runs), and the outbox is dispatched as the server's
sweeper does it. Timed: from the report until every affected booking has been rebooked
or queued (the run's end; what other handlers then do with the outbox is not counted).
Re-coordination's default policy applies: a fix is applied without a person only on the
same site and local day with 24 h notice; the others go to the exception queue with
ranked alternatives. Afterwards one SQL query counts overlapping
active allocations, which must be 0. Target: ≤ 2 s for 200 bookings.

    .venv/bin/python bench/recoordination.py [--only postgres|sqlite] [--affected 200] [--per-booking]

``--per-booking`` turns the joint plan off (``Policy.joint``): every booking is fixed one by
one, as before the rebalancing model, for a comparison on the same machine and data.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from _common import NOW, machine, postgres_url, report, seed_regional, sqlite_url
from careflow.adapters.db.orchestration_store import runs_of
from careflow.api.routes.manage_common import deps_of
from careflow.bootstrap import App, bootstrap
from careflow.config import load_settings
from careflow.domain.access import Actor
from careflow.domain.bookings import BookingStatus
from careflow.domain.commands import BookOption
from careflow.domain.errors import CareflowError
from careflow.domain.ids import PatientId, ResourceId, ServiceId
from careflow.domain.options import FindRequest
from careflow.services import ingest, recoordination
from careflow.services.booking import book_option
from careflow.services.finding import find
from careflow.services.ports import BookingFilter

HR = Actor("hr-bench", frozenset({"integration_client"}))
SCHEDULER = Actor("bench", frozenset({"scheduler"}))
OVERLAPS = text("""
    SELECT count(*) FROM allocation a JOIN allocation b
      ON a.resource_id = b.resource_id AND a.lane = b.lane AND a.id < b.id
     AND a.start_at < b.end_at AND b.start_at < a.end_at
   WHERE a.active AND b.active""")


def booked_of(app: App, clinician: str) -> list[Any]:
    with app.deps.uow() as uow:
        flt = BookingFilter(resource_id=ResourceId(clinician), status=BookingStatus.BOOKED,
                            start_from=NOW + timedelta(hours=1))
        found, _ = uow.bookings.find(flt, 0, 10_000)
    return sorted(found, key=lambda b: b.start)


def busiest_clinician(app: App, prefix: str) -> str:
    with app.deps.uow() as uow:
        catalog = app.deps.catalogs.get(uow)
    candidates = [r.id for r in catalog.resources.values() if r.id.startswith(prefix)]
    return max(candidates, key=lambda c: len(booked_of(app, c)))


def top_up(app: App, clinician: str, wanted: int, patients: list[str]) -> int:
    """Book visits with ``clinician`` after their last booking until ``wanted`` lie ahead."""
    with app.deps.uow() as uow:
        catalog = app.deps.catalogs.get(uow)
        services = [s.id for s in catalog.services.values() if s.id.startswith("svc-ophth")]
    added, p, day = 0, 0, 1
    while len(booked_of(app, clinician)) < wanted and day < 120:
        start = NOW + timedelta(days=day)
        for service in services:
            result = find(FindRequest(ServiceId(service), PatientId(patients[p % len(patients)]), start,
                                      start + timedelta(days=1),
                                      preferred_clinicians=frozenset({ResourceId(clinician)}), limit=50),
                          app.deps)
            for option in result.options:
                if clinician not in {a.resource_id for a in option.allocations}:
                    continue
                try:
                    book_option(BookOption(option, SCHEDULER), app.deps)
                    added += 1
                    p += 1
                except CareflowError:
                    continue
                if len(booked_of(app, clinician)) >= wanted:
                    return added
        day += 1
    return added


def run(url: str, name: str, affected: int, patients: list[str], joint: bool = True) -> dict[str, Any]:
    app = bootstrap(load_settings(database_url=url, workflows=False), clock=lambda: NOW)
    clinician = busiest_clinician(app, "clin-ophth")
    added = top_up(app, clinician, affected, patients)
    mine = booked_of(app, clinician)[:affected]
    window_start, window_end = NOW + timedelta(hours=1), max(b.end for b in mine)
    assert app.events is not None
    finished: list[float] = []
    original = recoordination.recoordinate

    def timed(run: Any, deps: Any) -> Any:  # the moment the last affected booking is handled
        done = original(run, replace(deps, policy=replace(deps.policy, joint=joint)))
        finished.append(time.perf_counter())
        return done

    recoordination.recoordinate = timed
    began = time.perf_counter()
    ingest.resource_closed("ClinicianCalledOut", clinician, window_start, window_end,
                           ingest.Report(HR, "hr-bench", "bench-1"),
                           ingest.IngestDeps(deps_of(app), app.deps), "bench call-out")
    reported = time.perf_counter()
    while app.events.dispatcher.dispatch_once(app.events.outbox).events and not finished:
        pass
    recoordination.recoordinate = original
    ended = finished[0]
    with app.deps.uow() as uow:
        runs, _ = runs_of(uow).page(0, 5, clinician)
    run = runs[0]
    summary = run.summary()
    plan = next((o.detail.split(";")[0] for o in run.outcomes if o.path == "joint_plan"), None)
    with app.engine.connect() as conn:
        overlaps = int(conn.execute(OVERLAPS).scalar_one())
    app.dispose()
    return {"database": name, "clinician": clinician, "topped_up": added, "affected": summary["affected"],
            "auto_resolved": summary["auto_resolved"], "queued": summary["queued"],
            "unchanged": summary["unchanged"], "failed": summary["failed"],
            "auto_share": round(summary["auto_resolved"] / max(1, summary["affected"]), 3),
            "report_ms": round((reported - began) * 1000, 1), "seconds": round(ended - began, 3),
            "ms_per_booking": round((ended - began) * 1000 / max(1, summary["affected"]), 2),
            "overlaps": overlaps, "path": "joint" if joint else "per_booking",
            "planned_jointly": summary["planned_jointly"], "plan": plan}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=("postgres", "sqlite"))
    parser.add_argument("--affected", type=int, default=200)
    parser.add_argument("--per-booking", action="store_true", help="fix bookings one by one (no joint plan)")
    args = parser.parse_args()
    rows = []
    for name, make_url in (("postgres", postgres_url), ("sqlite", lambda: sqlite_url("recoordination"))):
        if args.only and args.only != name:
            continue
        url = make_url()
        system, _ = seed_regional(url)
        patients = sorted(p.id for p in system.patients if not p.needs_interpreter)
        rows.append(run(url, name, args.affected, patients, joint=not args.per_booking))
    by_db = {r["database"]: r for r in rows}
    main_row = by_db.get("postgres") or rows[0]
    result = {"affected": main_row["affected"], "auto_resolved": main_row["auto_resolved"],
              "queued": main_row["queued"], "seconds": main_row["seconds"],
              "target_seconds": 2.0, "met": main_row["seconds"] <= 2.0 and main_row["overlaps"] == 0,
              "by_database": by_db, **machine()}
    report("Re-coordination after a call-out", rows, result)


if __name__ == "__main__":
    main()
