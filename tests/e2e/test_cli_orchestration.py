"""`careflow events report`, `careflow recoordination`, `careflow waitlist` as a user runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.test_cli import assert_one_line_exit_2, in_process


@pytest.fixture
def db(today_db: str) -> str:
    return today_db


def test_a_reported_call_out_is_handled_and_its_run_shown(capsys: pytest.CaptureFixture[str],
                                                          db: str) -> None:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    body = json.dumps({"resource_id": "clin-ortho-01", "start": start.isoformat(),
                       "end": (start + timedelta(days=3)).isoformat(), "reason": "cli test"})
    done = in_process(capsys, "events", "report", "ClinicianCalledOut", "--body", body, "--db", db, "--json")
    assert done.returncode == 0, done.stderr
    receipt = json.loads(done.stdout)
    assert receipt["aggregate_id"] == "clin-ortho-01" and receipt["delivered"] >= 1
    run = receipt["recoordination"]
    assert run is not None and run["finished_at"] and run["affected"] == (
        run["auto_resolved"] + run["queued"] + run["unchanged"] + run["failed"])
    listed = json.loads(in_process(capsys, "recoordination", "runs", "--db", db, "--json").stdout)
    assert listed["total"] == 1
    shown = in_process(capsys, "recoordination", "show", str(run["event_id"]), "--db", db, "--json")
    assert len(json.loads(shown.stdout)["outcomes"]) == run["affected"]


@pytest.mark.parametrize(("args", "message"), [
    (["events", "report", "NoSuchEvent", "--body", "{}"], "unknown event"),
    (["events", "report", "ClinicianCalledOut", "--body", "{not json"], "--body: invalid JSON"),
    (["events", "report", "ClinicianCalledOut", "--body", '{"resource_id": "x"}'], "--body: start"),
    (["events", "report", "ClinicianCalledOut", "--body",
      '{"resource_id": "nobody", "start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}'], "nobody"),
    (["recoordination", "show", "99"], "no re-coordination run"),
    (["waitlist", "add", "--patient", "pat-00001", "--service", "svc-ortho-new", "--earliest",
      "2030-01-01T00:00:00", "--latest", "2030-01-05T00:00:00+00:00"], "--earliest: needs a UTC offset"),
    (["waitlist", "list", "--status", "asleep"], "--status"),
])
def test_bad_input_is_one_line_with_exit_2(capsys: pytest.CaptureFixture[str], db: str, args: list[str],
                                           message: str) -> None:
    assert_one_line_exit_2(in_process(capsys, *args, "--db", db), message)


def test_the_waitlist_from_the_command_line(capsys: pytest.CaptureFixture[str], db: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    added = in_process(capsys, "waitlist", "add", "--patient", "pat-00003", "--service", "svc-ortho-new",
                       "--earliest", now.isoformat(), "--latest", (now + timedelta(days=9)).isoformat(),
                       "--priority", "high", "--db", db, "--json")
    assert added.returncode == 0, added.stderr
    entry = json.loads(added.stdout)
    listed = json.loads(in_process(capsys, "waitlist", "list", "--db", db, "--json").stdout)
    assert [e["id"] for e in listed["items"]] == [entry["id"]]
    gone = json.loads(in_process(capsys, "waitlist", "withdraw", entry["id"], "--db", db, "--json").stdout)
    assert gone["status"] == "withdrawn"
    again = in_process(capsys, "waitlist", "withdraw", entry["id"], "--db", db)
    assert again.returncode == 1 and "it is withdrawn" in again.stderr  # a refusal, not bad input
    assert len(again.stderr.strip().splitlines()) == 1
