"""Shared set-up for the benchmarks: the regional demo in a database, and reporting."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.demo import build
from careflow.domain.health_system import HealthSystem

ANCHOR = date(2026, 12, 7)  # a Monday; the benchmarks are reproducible
NOW = datetime.combine(ANCHOR, clock_time(6, 0), tzinfo=ZoneInfo("America/New_York"))
console = Console(stderr=True)


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()}


def seed_regional(url: str) -> tuple[HealthSystem, float]:
    """Build the regional demo and load it into ``url``; returns it and the seconds it took."""
    began = time.perf_counter()
    system = build("regional", seed=7, anchor=ANCHOR)
    migrate(url)
    engine = make_engine(url)
    try:
        load_health_system(engine, system, replace=True)
    finally:
        engine.dispose()
    return system, time.perf_counter() - began


def sqlite_url(name: str) -> str:
    folder = Path("var/bench")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def postgres_url() -> str:
    """A dedicated benchmark database (created when missing), never the test database."""
    url = os.environ.get("CAREFLOW_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/careflow_bench")
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    return url


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def summary_ms(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {"p50_ms": round(percentile(ms, 0.50), 2), "p90_ms": round(percentile(ms, 0.90), 2),
            "p99_ms": round(percentile(ms, 0.99), 2), "mean_ms": round(statistics.fmean(ms), 2),
            "max_ms": round(max(ms), 2)}


def report(title: str, rows: list[dict[str, Any]], result: dict[str, Any]) -> None:
    """A table for people (stderr), then the result as one JSON line (stdout, last line)."""
    if rows:
        table = Table(title=title)
        for key in rows[0]:
            table.add_column(key)
        for row in rows:
            table.add_row(*(str(v) for v in row.values()))
        console.print(table)
    print(json.dumps(result, default=str))
