"""``careflow seed``: load the demo health system or a health-system file."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from careflow.api.schemas import EARLIEST_INSTANT, LATEST_INSTANT
from careflow.cli.common import AsJson, Db, console, database, emit, fail, settings_for
from careflow.domain.errors import InvalidRequest
from careflow.domain.health_system import HealthSystem

# The demo's bookings, holds and expiries must be instants the API accepts back.
FIRST_ANCHOR = EARLIEST_INSTANT.date()
LAST_ANCHOR = date(LATEST_INSTANT.year - 2, 1, 1)


def seed(
    scenario: Annotated[str | None, typer.Option("--scenario", help="demo scenario: regional or tiny")] = None,
    from_file: Annotated[Path | None, typer.Option("--from", help="a YAML or JSON health-system file")] = None,
    db: Db = None,
    seed_value: Annotated[int, typer.Option("--seed", help="random seed of the demo")] = 7,
    anchor: Annotated[str | None, typer.Option("--anchor", help="first day of the demo horizon (YYYY-MM-DD)")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="add to existing data instead of replacing it")] = False,
    as_json: AsJson = False,
) -> None:
    """Seed a database with the demo health system or your own master data."""
    if (scenario is None) == (from_file is None):
        fail("give exactly one of --scenario or --from")
    if scenario is not None and scenario not in ("regional", "tiny"):
        fail(f"unknown scenario {scenario!r}: use regional or tiny")
    try:
        first_day = date.fromisoformat(anchor) if anchor else None
    except ValueError:
        fail(f"--anchor must be a date like 2026-12-01, not {anchor!r}")
    if first_day is not None and not FIRST_ANCHOR <= first_day <= LAST_ANCHOR:
        fail(f"--anchor must be between {FIRST_ANCHOR} and {LAST_ANCHOR}, not {anchor}")
    settings = settings_for(db)
    timings: dict[str, float] = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=as_json, disable=as_json) as progress:
        task = progress.add_task("building the health system", total=3)
        began = time.perf_counter()
        system = _build(scenario, from_file, seed_value, first_day)
        timings["build_s"] = time.perf_counter() - began
        progress.update(task, advance=1, description="migrating the database")
        began = time.perf_counter()
        from careflow.adapters.db.engine import make_engine
        from careflow.adapters.db.loader import load_health_system
        from careflow.adapters.db.migrator import migrate

        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        with database(settings.database_url):
            migrate(settings.database_url)
        progress.update(task, advance=1, description=f"loading {len(system.bookings):,} bookings")
        engine = make_engine(settings.database_url)
        try:
            with database(settings.database_url, storing=str(from_file or scenario)):
                load_health_system(engine, system, replace=not keep)
        finally:
            engine.dispose()
        timings["load_s"] = time.perf_counter() - began
        progress.update(task, advance=1, description="done")
    summary = system.summary()
    if as_json:
        emit({"name": system.name, **summary, **{k: round(v, 2) for k, v in timings.items()}})
        return
    table = Table(title=f"seeded {system.name}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in summary.items():
        table.add_row(key, f"{value:,}")
    console.print(table)
    console.print(f"built in {timings['build_s']:.1f} s, loaded in {timings['load_s']:.1f} s")


def _build(scenario: str | None, from_file: Path | None, seed_value: int,
           anchor: date | None) -> HealthSystem:
    from careflow.demo import build, load_file

    try:
        if from_file is not None:
            return load_file(from_file)
        assert scenario is not None
        return build(scenario, seed=seed_value, anchor=anchor)
    except InvalidRequest as exc:
        fail(f"{from_file or scenario}: {exc.message}")
