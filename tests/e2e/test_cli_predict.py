"""`careflow predict` as a user runs it: a subprocess on the tiny demo (real clock), tables or
JSON, and bad input as one line with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from careflow import demo
from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate

CLI = [sys.executable, "-m", "careflow.cli", "predict"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-predict') / 'careflow.db'}"
    migrate(url)
    engine = make_engine(url)
    load_health_system(engine, demo.build("tiny", seed=7), replace=True)
    engine.dispose()
    return url


def careflow(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.slow  # two subprocesses
def test_the_policy_is_set_with_a_reason_and_bad_input_is_one_line(db: str) -> None:
    done = careflow("policy", "--site", "site-c1", "--set", '{"mode": "executable", "max_per_session": 1}',
                    "--reason", "pilot", "--db", db, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"site_id": "site-c1", "mode": "executable", "max_per_session": 1,
                                       "risk_tolerance": 0.1, "clinicians_opted_out": [], "version": 1}
    bad = careflow("policy", "--site", "site-c1", "--set", '{"mode": "always"}', "--reason", "x", "--db", db)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "mode must be one of advisory, executable" in bad.stderr and "Traceback" not in bad.stderr
