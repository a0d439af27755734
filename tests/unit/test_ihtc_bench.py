"""careflow ihtc bench: ranks and gaps as the competition counts them, a process per instance, the report."""

from __future__ import annotations

import csv
import json
import subprocess
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from careflow.cli import main
from careflow.domain.errors import InvalidRequest
from careflow.planning.ihtc import bench
from careflow.planning.ihtc.bench import (
    COLUMNS,
    DEFAULT_DATA,
    BenchRow,
    best_known,
    competition_costs,
    competition_rank,
    gap,
    instance_paths,
    markdown_report,
    rounds_cell,
    row_cells,
    run_bench,
    summarize,
)

DATA = DEFAULT_DATA


def _row(instance: str, *, gap: float | None = None, rank: float | None = None, violations: int | None = 0,
         status: str = "ok", peak_mb: float = 20.0) -> BenchRow:
    return BenchRow(instance=instance, status=status, cost=None, best_known=None, gap=gap, rank=rank,
                    hard_violations=violations, seconds=1.0, process_seconds=1.5, peak_mb=peak_mb)


def test_default_data_is_the_shared_folder_beside_the_repository() -> None:
    assert Path(__file__).resolve().parents[3] / "shared" / "data" / "ihtc2024" == DATA
    assert (DATA / "public" / "i01.json").is_file()


def test_rank_reproduces_every_place_of_the_competitions_own_ranking() -> None:
    costs = competition_costs(DATA)
    with (DATA / "results" / "ihtc2024_ph1_inst_rank.csv").open(newline="") as fh:
        ranks = {row[""].removesuffix(".json"): row
                 for row in csv.DictReader(fh) if row[""].endswith(".json")}
    assert len(costs) == len(ranks) == 30
    for name, teams in costs.items():
        for k, cost in enumerate(teams):
            others = teams[:k] + teams[k + 1:]
            assert competition_rank(cost, others) == float(ranks[name][f"T{k + 1}"]), (name, k)


def test_a_cost_equal_to_the_best_team_shares_first_and_second_place() -> None:
    assert competition_rank(3842, competition_costs(DATA)["i01"]) == 1.5


def test_a_cost_below_every_team_is_first_and_one_above_every_team_is_last() -> None:
    teams = competition_costs(DATA)["i01"]
    assert competition_rank(3000, teams) == 1
    assert competition_rank(50_000, teams) == 33


def test_no_feasible_solution_ties_with_the_teams_that_had_none() -> None:
    teams = competition_costs(DATA)["i30"]  # three teams had no feasible solution
    assert competition_rank(None, teams) == 1 + 29 + 3 / 2


def test_best_known_is_the_best_team_at_competition_end() -> None:
    best, costs = best_known(DATA), competition_costs(DATA)
    assert best == {name: min(teams) for name, teams in costs.items()}
    assert best["i10"] == 20820


def test_gap_is_relative_to_the_best_known_and_empty_without_one() -> None:
    assert gap(4226, 3842) == pytest.approx(0.09995, abs=1e-5)
    assert gap(3842, 3842) == 0
    assert gap(None, 3842) is None
    assert gap(3450, None) is None


def test_summary_counts_gaps_violations_overruns_and_the_worst_rank() -> None:
    summary = summarize([
        _row("i01", gap=0.1, rank=12), _row("i02", gap=0.3, rank=20, peak_mb=80),
        _row("i03", rank=31.5, violations=2), _row("i04", rank=31.5, violations=None, status="overran"),
        _row("i05", gap=0.25, rank=19, status="late"),
    ])
    assert summary.mean_gap == pytest.approx((0.1 + 0.3 + 0.25) / 3)
    assert summary.max_gap == 0.3
    assert summary.above_20_percent == 2
    assert summary.with_hard_violations == ("i03",)
    assert summary.overran == ("i04", "i05")
    assert summary.crashed == ()
    assert (summary.worst_rank, summary.max_peak_mb) == (31.5, 80)


def test_the_rounds_cell_says_how_many_solves_ran_and_after_a_stall_what_each_reached() -> None:
    once = replace(_row("i01"), rounds=(3950,))
    assert rounds_cell(once) == "1"
    assert rounds_cell(_row("i01")) == ""  # a crashed child reports none
    again = replace(once, rounds=(3950, 3921, 3990), stalled_at=352.4)
    assert rounds_cell(again) == "3 (stalled at 352 s: 3950, 3921, 3990)"
    assert row_cells(again)[COLUMNS.index("rounds")] == rounds_cell(again)


def test_a_set_lists_its_instances_and_names_pick_some_in_order() -> None:
    assert [p.stem for p in instance_paths(DATA, "small")] == [f"small{k:02d}" for k in range(1, 10)]
    assert [p.stem for p in instance_paths(DATA, "public", ["i13", "i02.json", "i13"])] == ["i13", "i02"]


@pytest.mark.parametrize(("data", "set_name", "names", "field"), [
    (DATA, "large", (), "set"),
    (DATA / "nowhere", "test", (), "data"),
    (DATA, "test", ("i02",), "instances"),
])
def test_bad_sets_folders_and_names_are_refused_naming_the_input(
        data: Path, set_name: str, names: tuple[str, ...], field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        instance_paths(data, set_name, names)
    assert refused.value.field == field


def _worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """Run ``body`` as the child instead of the real worker (it may hand over to the real one)."""
    (tmp_path / "fake_worker.py").write_text(body)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(bench, "WORKER", "fake_worker")


HAND_OVER = ("import runpy\n"
             "runpy.run_module('careflow.planning.ihtc.bench', run_name='__main__', alter_sys=True)\n")


def test_a_run_past_its_limit_and_grace_is_killed_and_reported_as_overran(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _worker(tmp_path, monkeypatch, "import time\ntime.sleep(60)\n")
    run = run_bench(DATA, "public", ["i01"], time_limit=0.2, grace=0.3)
    row = run.rows[0]
    assert (row.status, row.cost, row.gap) == ("overran", None, None)
    assert row.seconds is None
    assert row.process_seconds < 5
    assert row.rank == competition_rank(None, competition_costs(DATA)["i01"])
    assert run.summary.overran == ("i01",)


def test_a_crash_is_reported_with_its_last_line_and_the_next_instance_still_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crash_on_test01 = "import sys\nif 'test01' in sys.argv[1]:\n    raise SystemExit('solver fell over')\n"
    _worker(tmp_path, monkeypatch, crash_on_test01 + HAND_OVER)
    run = run_bench(DATA, "test", ["test01", "test02"], time_limit=0.5)
    crashed, solved = run.rows
    assert (crashed.status, crashed.detail) == ("crashed", "exit 1: solver fell over")
    assert (solved.status, solved.hard_violations) == ("ok", 0)
    assert run.summary.crashed == ("test01",)


def test_a_child_that_exits_without_its_report_is_a_crash_not_a_solution(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _worker(tmp_path, monkeypatch, "print('solving...')\n")
    row = run_bench(DATA, "small", ["small01"], time_limit=0.2).rows[0]
    assert (row.status, row.detail, row.cost) == ("crashed", "exit 0 without its report line", None)


@pytest.mark.slow
def test_peak_memory_is_the_childs_own_not_the_benchs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _worker(tmp_path, monkeypatch, "ballast = bytearray(200 * 2**20)\n" + HAND_OVER)
    parent_ballast = bytearray(500 * 2**20)  # a big parent must not make the children look big
    heavy = run_bench(DATA, "test", ["test01"], time_limit=0.2).rows[0]
    monkeypatch.setattr(bench, "WORKER", "careflow.planning.ihtc.bench")
    light = run_bench(DATA, "test", ["test01"], time_limit=0.2).rows[0]
    del parent_ballast
    assert 10 < light.peak_mb < 400
    assert 200 - 10 < heavy.peak_mb - light.peak_mb < 200 + 30


def test_progress_is_told_before_and_after_each_instance() -> None:
    calls: list[tuple[int, int, str, bool]] = []
    run_bench(DATA, "test", ["test03", "test01"], time_limit=0.2,
              progress=lambda i, n, name, row: calls.append((i, n, name, row is not None)))
    assert calls == [(0, 2, "test03", False), (0, 2, "test03", True),
                     (1, 2, "test01", False), (1, 2, "test01", True)]


def test_the_run_so_far_is_handed_over_after_each_instance() -> None:
    seen: list[tuple[tuple[str, ...], bool, int]] = []
    run = run_bench(DATA, "test", ["test03", "test01"], time_limit=0.2,
                    on_row=lambda so_far: seen.append(
                        (tuple(r.instance for r in so_far.rows), so_far.complete, so_far.summary.instances)))
    assert seen == [(("test03",), False, 1), (("test03", "test01"), True, 2)]
    assert run.planned == ("test03", "test01") and run.complete
    assert all(datetime.fromisoformat(row.started).tzinfo is not None for row in run.rows)
    assert run.rows[0].started <= run.rows[1].started


def test_a_report_cut_short_is_marked_partial_and_names_what_was_not_run() -> None:
    run = run_bench(DATA, "test", ["test03"], time_limit=0.2)
    cut = replace(run, planned=("test03", "test01", "test02"))
    text = markdown_report(cut, "careflow ihtc bench ...")
    assert "**partial:** 1 of 3 instances done; not yet run: test01, test02" in text
    assert cut.to_json()["complete"] is False and run.to_json()["complete"] is True
    assert "partial" not in markdown_report(run, "careflow ihtc bench ...")


def _careflow(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["careflow", *args], int(exited.value.code or 0), out, err)


@pytest.mark.slow
def test_cli_bench_writes_json_and_markdown_with_every_column_and_no_violations(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "results"
    done = _careflow(capsys, "ihtc", "bench", "--set", "test", "--instances", "test01,test02",
                     "--time-limit", "2", "--threads", "1", "--out-dir", str(out_dir))
    assert done.returncode == 0, done.stderr
    assert f"wrote {out_dir / 'ihtc_test_2s'}.json and {out_dir / 'ihtc_test_2s'}.md" in done.stdout
    report = json.loads((out_dir / "ihtc_test_2s.json").read_text())
    assert [row["instance"] for row in report["rows"]] == ["test01", "test02"]
    assert set(report["rows"][0]) == {"instance", "status", "cost", "best_known", "gap", "rank",
                                      "hard_violations", "seconds", "process_seconds", "peak_mb", "detail",
                                      "started", "rounds", "stalled_at"}
    # 2 s: one whole solve, no search to stall; its cost is the one scored
    assert [(row["rounds"], row["stalled_at"]) for row in report["rows"]] == [
        ([row["cost"]], None) for row in report["rows"]]
    assert report["complete"] is True and report["planned"] == ["test01", "test02"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["ihtc_test_2s.json", "ihtc_test_2s.md"]  # no scratch
    assert [row["hard_violations"] for row in report["rows"]] == [0, 0]
    assert [row["best_known"] for row in report["rows"]] == [None, None]  # the test set has no best known
    assert report["summary"]["with_hard_violations"] == []
    assert report["command"].startswith(
        "careflow ihtc bench --set test --instances test01,test02 --time-limit 2 --threads 1")
    markdown = (out_dir / "ihtc_test_2s.md").read_text()
    assert "| " + " | ".join(COLUMNS) + " |" in markdown
    assert "| test01 |" in markdown and "| test02 |" in markdown
    for header in ("- machine:", "CPUs", "- command: `careflow ihtc bench", "- commit:", "- date:",
                   "Summary:"):
        assert header in markdown


def test_cli_bench_interrupted_keeps_the_instances_it_finished(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    solve_one = bench._bench_one

    def stopped_on_test02(path: Path, *args: object) -> BenchRow:
        if path.stem == "test02":
            raise KeyboardInterrupt  # Ctrl-C, or the session's end, during the second instance
        return solve_one(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(bench, "_bench_one", stopped_on_test02)
    stopped = _careflow(capsys, "ihtc", "bench", "--set", "test", "--instances", "test01,test02,test03",
                        "--time-limit", "0.5", "--threads", "1", "--out-dir", str(tmp_path))
    assert stopped.returncode != 0
    report = json.loads((tmp_path / "ihtc_test_0.5s.json").read_text())
    assert [row["instance"] for row in report["rows"]] == ["test01"] and report["complete"] is False
    assert "not yet run: test02, test03" in (tmp_path / "ihtc_test_0.5s.md").read_text()


@pytest.mark.parametrize(("args", "named"), [
    ([], "--set"),
    (["--set", "large"], "--set"),
    (["--set", "test", "--data", "/nonexistent/ihtc2024"], "--data"),
    (["--set", "public", "--instances", "i02,i99"], "--instances"),
    (["--set", "test", "--instances", "test01", "--out-dir", "FILE"], "--out-dir"),
    (["--set", "test", "--instances", "test01", "--out-dir", "FILE/below"], "--out-dir"),
])
def test_cli_bench_refuses_bad_input_in_one_line_and_writes_nothing(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], named: str) -> None:
    (tmp_path / "FILE").write_text("not a directory")
    args = [arg.replace("FILE", str(tmp_path / "FILE")) for arg in args]
    refused = _careflow(capsys, "ihtc", "bench", "--time-limit", "1", *args,
                        *([] if "--out-dir" in args else ["--out-dir", str(tmp_path / "out")]))
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1
    assert named in refused.stderr and "Traceback" not in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE"]
