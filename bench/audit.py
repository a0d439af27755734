"""Audit trail: appends per second (each its own transaction, as the API writes them, from
concurrent writers) and the seconds ``careflow audit verify`` takes over a chain of
1,000,000 entries, on SQLite and on PostgreSQL (where a trigger seals each entry).

    .venv/bin/python bench/audit.py [--entries 1000000] [--seconds 10] [--threads 8] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from rich.progress import Progress
from sqlalchemy import Engine

from _common import console, machine, report, sqlite_url
from careflow.adapters.db.audit import append, verify
from careflow.adapters.db.engine import WRITE_OPTION, make_engine
from careflow.adapters.db.migrator import migrate
from careflow.adapters.db.uow import SqlUnitOfWorkFactory
from careflow.services.ports import AuditEntry

# One transaction per 1,000 entries: on PostgreSQL every entry updates the chain's head row,
# and the row versions one transaction leaves behind cannot be pruned until it ends.
BATCH = 1_000


def postgres_url() -> str:
    """A fresh database of its own (the other benchmarks use ``careflow_bench``)."""
    url = os.environ.get("CAREFLOW_AUDIT_BENCH_POSTGRES_URL",
                         "postgresql://postgres@127.0.0.1:5432/careflow_audit_bench")
    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    return url


def appends_per_second(engine: Engine, seconds: float, threads: int) -> dict[str, Any]:
    """Each thread appends one entry per transaction, through the unit of work."""
    uow = SqlUnitOfWorkFactory(engine)
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def writer(i: int) -> None:
        while time.perf_counter() < deadline:
            with uow(write=True) as unit:
                unit.audit(AuditEntry(f"u-{i}", "booking.read", "booking", f"b-{counts[i]}", "ok",
                                      detail={"patient_id": f"pat-{i:05d}"}))
                unit.commit()
            counts[i] += 1

    began = time.perf_counter()
    pool = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - began
    return {"appends": sum(counts), "seconds": round(elapsed, 2),
            "appends_per_s": round(sum(counts) / elapsed, 1), "threads": threads}


def build_chain(engine: Engine, entries: int, progress: Progress) -> float:
    """Append ``entries`` in batches of 1,000 (one transaction each); returns seconds."""
    task = progress.add_task(f"appending {entries:,} entries ({engine.dialect.name})", total=entries)
    began = time.perf_counter()
    at = datetime.now(UTC)
    done = 0
    while done < entries:
        n = min(BATCH, entries - done)
        rows = [{"at": at, "actor": f"u-{(done + i) % 50}", "action": "booking.read",
                 "entity_type": "booking",
                 "entity_id": f"b-{done + i}", "outcome": "ok", "reason": "", "rule_version": "",
                 "detail": {"patient_id": f"pat-{(done + i) % 5000:05d}"}} for i in range(n)]
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                append(conn, rows)
        done += n
        progress.update(task, completed=done)
    return time.perf_counter() - began


def run(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    migrate(url)
    engine = make_engine(url)
    try:
        appends = appends_per_second(engine, args.seconds, args.threads)
        console.print(f"{name}: {appends['appends_per_s']:,} appends/s")
        with Progress(console=console, transient=True) as progress:
            build_s = build_chain(engine, args.entries, progress)
            task = progress.add_task(f"verifying ({name})", total=args.entries + appends["appends"])
            began = time.perf_counter()
            result = verify(engine, progress=lambda n: progress.update(task, completed=n))
            verify_s = time.perf_counter() - began
        if not result.ok:
            raise SystemExit(f"{name}: the chain does not verify: {result}")
        return {"database": name, **appends, "chain_entries": result.entries,
                "bulk_append_s": round(build_s, 1), "verify_s": round(verify_s, 1),
                "verify_entries_per_s": round(result.entries / verify_s)}
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    args = parser.parse_args()
    rows = []
    if args.only in (None, "sqlite"):
        rows.append(run("sqlite", sqlite_url("audit"), args))
    if args.only in (None, "postgres"):
        rows.append(run("postgres", postgres_url(), args))
    report("audit trail", rows, {"benchmark": "audit", "machine": machine(),
                                 "load_average": os.getloadavg()[0], "results": rows})


if __name__ == "__main__":
    main()
