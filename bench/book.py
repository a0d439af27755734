"""bench/book.py: booking throughput with 16 concurrent clients, on PostgreSQL and SQLite.

The regional demo is loaded, then a pool of mutually compatible options is found with
`find` beyond the pre-filled horizon (clinic visits and imaging, for many patients).
Sixteen clients (threads, each with its own connection, spread over two worker processes
as two API workers on two cores would be) book them through the real use case,
all-or-nothing with every check, outbox event and audit entry. Throughput counts
successful bookings per wall-clock second; afterwards one SQL query counts overlapping
active allocations on any resource lane, which must be 0. Target: ≥ 500 bookings/s on PostgreSQL on 2 cores.

    .venv/bin/python bench/book.py [--clients 16] [--bookings 6000] [--only postgres|sqlite]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from _common import NOW, machine, postgres_url, report, seed_regional, sqlite_url
from careflow.adapters.db.engine import make_engine
from careflow.api.schemas import OptionIO
from careflow.bootstrap import bootstrap
from careflow.config import load_settings
from careflow.domain.access import Actor
from careflow.domain.commands import BookOption
from careflow.domain.errors import Conflict
from careflow.domain.options import FindRequest, Option
from careflow.services.booking import book_option
from careflow.services.finding import find

SERVICES = ("svc-im-fu", "svc-fm-fu", "svc-cardio-fu", "svc-peds-fu", "svc-ortho-fu", "svc-obgyn-fu",
            "svc-onc-fu", "svc-uro-fu", "svc-ent-fu", "svc-us-abdomen", "svc-ct-chest")
ACTOR = Actor("bench", frozenset({"scheduler"}))
OVERLAPS = text("""
    SELECT count(*) FROM allocation a JOIN allocation b
      ON a.resource_id = b.resource_id AND a.lane = b.lane AND a.id < b.id
     AND a.start_at < b.end_at AND b.start_at < a.end_at
   WHERE a.active AND b.active""")


def compatible_options(url: str, wanted: int, patients: list[str]) -> list[dict[str, Any]]:
    """Options from `find` after the pre-filled horizon, keeping a set that never collide."""
    app = bootstrap(load_settings(database_url=url), clock=lambda: NOW)
    taken: dict[tuple[str, int], list[tuple[int, int]]] = {}
    chosen: list[dict[str, Any]] = []
    p = 0
    for day in range(31, 120):
        for service in SERVICES:
            if len(chosen) >= wanted:
                app.dispose()
                return chosen
            start = NOW + timedelta(days=day)
            result = find(FindRequest(service, patients[p % len(patients)], start, start + timedelta(days=1),
                                      limit=100), app.deps)
            for option in result.options:
                if _fits(option, taken):
                    patient = patients[p % len(patients)]
                    p += 1
                    chosen.append(OptionIO.of(option).model_copy(update={"patient_id": patient})
                                  .model_dump(mode="json"))
    app.dispose()
    return chosen


def _fits(option: Option, taken: dict[tuple[str, int], list[tuple[int, int]]]) -> bool:
    spans = [((a.resource_id, a.lane), a.span) for a in option.allocations]
    for key, (lo, hi) in spans:
        if any(lo < b and a < hi for a, b in taken.get(key, [])):
            return False
    for key, span in spans:
        taken.setdefault(key, []).append(span)
    return True


def _worker(url: str, options: list[dict[str, Any]], threads: int, start_at: float, out: Any) -> None:
    """One process (an API worker) running ``threads`` clients, each with its own connection."""
    app = bootstrap(load_settings(database_url=url), clock=lambda: NOW, migrate=False)
    with app.deps.uow() as uow:
        app.deps.catalogs.get(uow)
    parsed = [OptionIO.model_validate(o).to_domain() for o in options]
    results: list[tuple[int, int, float, list[float]]] = []

    def client(mine: list[Option]) -> None:
        ok = refused = 0
        latencies = []
        for option in mine:
            began = time.perf_counter()
            try:
                book_option(BookOption(option, ACTOR), app.deps)
                ok += 1
            except Conflict:
                refused += 1
            latencies.append(time.perf_counter() - began)
        results.append((ok, refused, time.time(), latencies))

    workers = [threading.Thread(target=client, args=(parsed[i::threads],)) for i in range(threads)]
    while time.time() < start_at:
        time.sleep(0.001)
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for r in results:
        out.put(r)
    app.dispose()


def run(url: str, name: str, clients: int, processes: int, wanted: int,
        patients: list[str]) -> dict[str, Any]:
    options = compatible_options(url, wanted, patients)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 5.0
    per = clients // processes
    procs = [ctx.Process(target=_worker, args=(url, options[i::processes], per, start_at, out))
             for i in range(processes)]
    for proc in procs:
        proc.start()
    results = [out.get() for _ in range(per * processes)]
    for proc in procs:
        proc.join()
    ok = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results) - start_at
    latencies = sorted(x for r in results for x in r[3])
    engine = make_engine(url)
    with engine.connect() as conn:
        overlaps = int(conn.execute(OVERLAPS).scalar_one())
    engine.dispose()
    return {"database": name, "clients": clients, "processes": processes, "attempted": len(options),
            "booked": ok, "refused": refused,
            "seconds": round(elapsed, 2), "bookings_per_s": round(ok / elapsed, 1),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1), "overlaps": overlaps}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--processes", type=int, default=2, help="worker processes the clients run in")
    parser.add_argument("--bookings", type=int, default=6000)
    parser.add_argument("--only", choices=("postgres", "sqlite"))
    args = parser.parse_args()
    rows = []
    targets = [("postgres", postgres_url), ("sqlite", lambda: sqlite_url("book"))]
    for name, make_url in targets:
        if args.only and args.only != name:
            continue
        url = make_url()
        system, _ = seed_regional(url)
        patients = sorted(p.id for p in system.patients if not p.needs_interpreter)
        rows.append(run(url, name, args.clients, args.processes, args.bookings, patients))
    by_db = {r["database"]: r for r in rows}
    pg = by_db.get("postgres", {})
    report("booking throughput (regional demo, after its horizon)", rows, {
        "bench": "book", "results": rows, "target_postgres_bookings_per_s": 500,
        "meets_target": bool(pg) and pg["bookings_per_s"] >= 500,
        "overlaps_total": sum(r["overlaps"] for r in rows), "machine": machine(),
    })


if __name__ == "__main__":
    main()
