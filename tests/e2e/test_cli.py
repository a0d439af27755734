"""The command line, run as a user runs it: a subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from careflow.cli import main

CLI = [sys.executable, "-m", "careflow.cli"]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


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


def test_reschedule_from_the_command_line(live_db: str, tmp_path: Path) -> None:
    found = careflow("find", "--service", "svc-ortho-new", "--patient", "pat-00005", "--db", live_db,
                     "--days", "14", "--json")
    assert found.returncode == 0, found.stderr
    first = tmp_path / "first.json"
    first.write_text(found.stdout)
    booking = json.loads(careflow("book", "--option", str(first), "--db", live_db, "--json").stdout)
    moved_options = careflow("find", "--service", "svc-ortho-new", "--patient", "pat-00005", "--db", live_db,
                             "--days", "14", "--reschedule", booking["id"], "--json")
    assert moved_options.returncode == 0, moved_options.stderr
    later = tmp_path / "later.json"
    later.write_text(moved_options.stdout)
    ranks = json.loads(moved_options.stdout)["options"]
    rank = next(i + 1 for i, o in enumerate(ranks) if o["start"] != booking["start"])
    moved = careflow("reschedule", booking["id"], "--option", str(later), "--rank", str(rank),
                     "--reason", "patient asked for another time", "--db", live_db, "--json")
    assert moved.returncode == 0, moved.stderr
    result = json.loads(moved.stdout)
    assert result["id"] == booking["id"]
    assert result["start"] == ranks[rank - 1]["start"]


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


TKA = ["find", "--service", "svc-tka", "--patient", "pat-00001"]


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command line's entry point called in this process: the same code as the
    console script, without an interpreter start per case."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["careflow", *args], int(exited.value.code or 0), out, err)


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr, result.stderr


def test_a_usage_error_is_one_line_from_the_console_script(live_db: str) -> None:
    """Click would print a five-line box; the entry point makes it one line with exit 2."""
    assert_one_line_exit_2(careflow(*TKA, "--days", "0", "--db", live_db), "--days")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*TKA, "--days", "0"], "--days"),
        ([*TKA, "--days", "abc"], "--days"),
        ([*TKA, "--urgency", "bogus"], "--urgency"),
        (["find", "--service", "svc-tka"], "Missing option '--patient'"),
        ([*TKA, "--bogus"], "No such option: --bogus"),
        (["hold", "--option", "found.json", "--minutes", "0"], "--minutes"),
        (["bogus-command"], "No such command 'bogus-command'"),
        (["seed", "--scenario", "tiny", "--seed", "abc"], "--seed"),
        (["serve", "--port", "0"], "--port"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(capsys: pytest.CaptureFixture[str], live_db: str,
                                               args: list[str], message: str) -> None:
    assert_one_line_exit_2(in_process(capsys, *args, "--db", live_db), message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*TKA, "--earliest", "0001-01-01T00:00:00+00:00"], "--earliest"),
        ([*TKA, "--earliest", "9999-12-31T00:00:00+00:00"], "--earliest"),
        ([*TKA, "--earliest", "9999-12-20T00:00:00Z", "--latest", "9999-12-31T00:00:00Z"], "--earliest"),
        (["find", "--service", "svc-tka", "--patient", "pat\x1b-00001"], "control characters"),
        (["find", "--service", "[red]svc", "--patient", "pat-00001"], "service '[red]svc' not found"),
        (["book", "--hold", "bk_x", "--override", "   "], "an override needs a reason"),
        (["seed", "--scenario", "tiny", "--anchor", "9999-12-31"], "--anchor"),
        (["seed", "--scenario", "tiny", "--anchor", "0001-01-01"], "--anchor"),
    ],
)
def test_out_of_range_values_are_one_line_with_exit_2(capsys: pytest.CaptureFixture[str], live_db: str,
                                                       args: list[str], message: str) -> None:
    assert_one_line_exit_2(in_process(capsys, *args, "--db", live_db), message)


@pytest.mark.parametrize(
    "url", ["bogus://x", "not a url", "mysql://u@localhost/x", "postgresql://nobody:secret@127.0.0.1:1/x"],
)
def test_a_database_url_that_cannot_be_opened_is_one_line_with_exit_2(capsys: pytest.CaptureFixture[str],
                                                                      url: str) -> None:
    result = in_process(capsys, "show", "bk_x", "--db", url)
    assert_one_line_exit_2(result, "--db: cannot open the database")
    assert "secret" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"options": 5}', "options must be a list"),
        (b"[]", "must be an option"),
        (b'"hello"', "must be an option"),
        (b"\xff\xfe garbage", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"options": [' + b"9" * 5_000 + b"]}", "digits"),
    ],
)
def test_an_unreadable_option_file_is_one_line_with_exit_2(capsys: pytest.CaptureFixture[str], live_db: str,
                                                           tmp_path: Path, content: bytes,
                                                           message: str) -> None:
    path = tmp_path / "option.json"
    path.write_bytes(content)
    assert_one_line_exit_2(in_process(capsys, "check", "--option", str(path), "--db", live_db), message)


@pytest.mark.parametrize(
    ("start", "end"),
    [("0001-01-01T00:00:00Z", "0001-01-01T02:00:00Z"), ("9999-12-31T20:00:00Z", "9999-12-31T22:00:00Z")],
)
def test_an_option_in_year_1_or_9999_is_refused_in_one_line_and_not_booked(
        capsys: pytest.CaptureFixture[str], live_db: str, tmp_path: Path, start: str, end: str) -> None:
    found = in_process(capsys, "find", "--service", "svc-ortho-new", "--patient", "pat-00003",
                       "--db", live_db, "--days", "14", "--json")
    assert found.returncode == 0, found.stderr
    option = {**json.loads(found.stdout)["options"][0], "start": start, "end": end}
    path = tmp_path / "far.json"
    path.write_text(json.dumps(option))
    for command in ("check", "hold", "book"):
        assert_one_line_exit_2(in_process(capsys, command, "--option", str(path), "--db", live_db), "start")


def _broken_copy(tmp_path: Path, change: Any) -> Path:
    """The example health system as JSON, with one value changed by ``change``."""
    data = yaml.safe_load((EXAMPLES / "health-system.yaml").read_text())
    change(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["stock"][0].update(on_hand=3_000_000_000), "stock[0].on_hand"),
        (lambda d: d["resources"][0].update(capacity=2**63), "resources[0].capacity"),
        (lambda d: d["patients"][0].update(name="Ada\x00"), "patients[0].name"),
        (lambda d: d["sites"][0].update(languages=["en", "e\x00s"]), "sites[0].languages"),
        (lambda d: d["resources"][0]["availability"]["exceptions"][0].update(
            start="9999-12-31T23:00:00-05:00"), "resources[0].availability.exceptions[0].start"),
        (lambda d: d["resources"][0]["profile"]["contract"].update(max_hours_day=float("nan")),
         "resources[0].profile.contract.max_hours_day"),
    ],
)
def test_seed_refuses_values_the_database_cannot_store_naming_the_field(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, change: Any, field: str) -> None:
    db = tmp_path / "never.db"
    result = in_process(capsys, "seed", "--from", str(_broken_copy(tmp_path, change)), "--db", f"sqlite:///{db}")
    assert_one_line_exit_2(result, field)
    assert not db.exists(), "nothing is written for a broken file"
