"""`careflow predict` as a user runs it: a subprocess on the tiny demo (real clock), tables or
JSON, and bad input as one line with exit 2."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_cli import careflow


@pytest.mark.slow  # two subprocesses
def test_the_policy_is_set_with_a_reason_and_bad_input_is_one_line(live_db: str) -> None:
    done = careflow("predict", "policy", "--site", "site-c1",
                    "--set", '{"mode": "executable", "max_per_session": 1}',
                    "--reason", "pilot", "--db", live_db, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"site_id": "site-c1", "mode": "executable", "max_per_session": 1,
                                       "risk_tolerance": 0.1, "clinicians_opted_out": [], "version": 1}
    bad = careflow("predict", "policy", "--site", "site-c1", "--set", '{"mode": "always"}', "--reason", "x",
                   "--db", live_db)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "mode must be one of advisory, executable" in bad.stderr and "Traceback" not in bad.stderr
