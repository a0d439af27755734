"""The command line, run as a user runs it: a subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from careflow import demo
from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate

CLI = [sys.executable, "-m", "careflow.cli"]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def live_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny demo anchored today: the command line runs on the real clock."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'careflow.db'}"
    migrate(url)
    engine = make_engine(url)
    load_health_system(engine, demo.build("tiny", seed=7), replace=True)
    engine.dispose()
    return url


def careflow(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env=env)


def test_find_book_and_cancel_from_the_command_line(live_db: str, tmp_path: Path) -> None:
    seeded_db = live_db
    found = careflow("find", "--service", "svc-ortho-new", "--patient", "pat-00001", "--db", seeded_db,
                     "--days", "14", "--json")
    assert found.returncode == 0, found.stderr
    options = json.loads(found.stdout)
    assert options["options"], options
    path = tmp_path / "found.json"
    path.write_text(found.stdout)
    checked = careflow("check", "--option", str(path), "--rank", "1", "--db", seeded_db, "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["ok"] is True
    booked = careflow("book", "--option", str(path), "--rank", "1", "--db", seeded_db, "--json")
    assert booked.returncode == 0, booked.stderr
    booking = json.loads(booked.stdout)
    assert booking["status"] == "booked"
    again = careflow("book", "--option", str(path), "--rank", "1", "--db", seeded_db)
    assert again.returncode == 1
    assert "RESOURCE_BOOKED" in again.stderr or "PATIENT_DOUBLE_BOOKED" in again.stderr
    cancelled = careflow("cancel", booking["id"], "--reason", "test over", "--db", seeded_db, "--json")
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(cancelled.stdout)["status"] == "cancelled"


def test_find_prints_a_table_by_default(live_db: str) -> None:
    found = careflow("find", "--service", "svc-ortho-new", "--patient", "pat-00002", "--db", live_db,
                     "--days", "14")
    assert found.returncode == 0, found.stderr
    assert "option(s)" in found.stdout and "site-" in found.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["find", "--service", "svc-tka", "--patient", "pat-00001", "--earliest", "2026-06-01T08:00"],
         "must carry a UTC offset"),
        (["find", "--service", "svc-tka", "--patient", "nobody"], "patient 'nobody' not found"),
        (["find", "--service", "svc-nothing", "--patient", "pat-00001"], "service 'svc-nothing' not found"),
        (["find", "--service", "svc-tka", "--patient", "pat-00001", "--earliest", "2026-06-01T08:00:00+00:00",
          "--latest", "2026-05-01T08:00:00+00:00"], "latest"),
        (["book"], "give exactly one of --option or --hold"),
        (["book", "--option", "/nonexistent.json"], "cannot read /nonexistent.json"),
        (["cancel", "bk_missing", "--reason", "x"], "booking 'bk_missing' not found"),
        (["cancel", "bk_missing", "--reason", " "], "reason must not be empty"),
    ],
)
def test_bad_input_exits_2_with_one_line(live_db: str, args: list[str], message: str) -> None:
    result = careflow(*args, "--db", live_db)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_seed_from_a_health_system_file(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'own.db'}"
    result = careflow("seed", "--from", str(EXAMPLES / "health-system.yaml"), "--db", db, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sites"] >= 1


def test_seed_refuses_a_broken_file_naming_the_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = (EXAMPLES / "health-system.yaml").read_text()
    broken.write_text(text.replace("timezone: America/New_York", "timezone: Mars/Olympus", 1))
    db = f"sqlite:///{tmp_path / 'never.db'}"
    result = careflow("seed", "--from", str(broken), "--db", db)
    assert result.returncode == 2
    assert "timezone" in result.stderr and "Mars/Olympus" in result.stderr
    assert not (tmp_path / "never.db").exists(), "nothing is written for a broken file"
