"""``careflow relay``: drains the outbox in process (--once) and prints its counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.migrator import migrate
from careflow.adapters.db.uow import SqlUnitOfWorkFactory
from careflow.domain.events import BookingCancelled


def test_relay_once_drains_the_outbox_and_reports_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'careflow.db'}"
    migrate(url)
    engine = make_engine(url)
    with SqlUnitOfWorkFactory(engine)(write=True) as uow:
        uow.publish([BookingCancelled(f"b{i}") for i in range(7)])
        uow.commit()
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if k != "CAREFLOW_NATS_URL"}
    done = subprocess.run([sys.executable, "-m", "careflow.cli", "relay", "--db", url, "--once", "--json"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    assert counts["published"] == 7 and counts["pending"] == 0 and counts["dead"] == 0
    again = subprocess.run([sys.executable, "-m", "careflow.cli", "relay", "--db", url, "--once"],
                           capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 0, again.stderr
    assert "published 0" in again.stdout and "pending 0" in again.stdout
