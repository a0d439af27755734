"""End-to-end fixtures: the tiny demo in a real SQLite file, served through the real app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from careflow import demo
from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.api.app import create_app
from careflow.bootstrap import App, bootstrap
from careflow.config import load_settings
from tests.auth import auth_headers
from tests.fakes import FixedClock

ANCHOR = date(2026, 6, 1)  # a Monday
# The clock stands at 06:00 New York time on the first day of the demo horizon.
NOW = datetime.combine(ANCHOR, time(6, 0), tzinfo=ZoneInfo("America/New_York"))


def tiny_demo_db(folder: Path, anchor: date | None = None) -> str:
    """A SQLite file in ``folder`` holding the tiny demo (anchored today unless ``anchor``)."""
    url = f"sqlite:///{folder / 'careflow.db'}"
    migrate(url)
    engine = make_engine(url)
    load_health_system(engine, demo.build("tiny", seed=7, anchor=anchor), replace=True)
    engine.dispose()
    return url


@pytest.fixture
def seeded_db(tmp_path: Path) -> str:
    return tiny_demo_db(tmp_path, ANCHOR)


@pytest.fixture(scope="module")
def live_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny demo anchored today, one per test module: the command line runs on the real clock."""
    return tiny_demo_db(tmp_path_factory.mktemp("cli"))


@pytest.fixture
def today_db(tmp_path: Path) -> str:
    """The tiny demo anchored today, fresh for each test."""
    return tiny_demo_db(tmp_path)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def app(seeded_db: str, clock: FixedClock) -> Iterator[App]:
    application = bootstrap(load_settings(database_url=seeded_db, environment="test"), clock=clock)
    yield application
    application.dispose()


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    """The API, as an admin (``tests.auth.auth_headers`` gives other roles' headers)."""
    with TestClient(create_app(app), raise_server_exceptions=False, headers=auth_headers(app)) as c:
        yield c


@pytest.fixture
def anonymous(app: App) -> Iterator[TestClient]:
    """The API without credentials."""
    with TestClient(create_app(app), raise_server_exceptions=False) as c:
        yield c


def window(days: int = 7) -> dict[str, str]:
    return {"earliest": NOW.isoformat(), "latest": (NOW + timedelta(days=days)).isoformat()}
