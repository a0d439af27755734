"""Benchmark the IHTC-2024 solver on a set of instances against the competition's results.

Each instance is solved in its own process (``python -m careflow.planning.ihtc.bench``), so a
crash or a runaway search cannot take the run down: the time limit is enforced from outside
(the child is killed ``grace`` seconds after it), and the child's peak resident set comes
from ``os.wait4``. The solution the child writes is scored here with ``score.py``.

Best known is the best of the 32 teams at the competition's end (``reference_costs.json``),
which exists only for i01-i30: test/ and small/ have none (test_solutions/ holds one feasible
but not optimal solution per test instance, which is no yardstick). The gap is
(cost - best) / best, for a solution without hard violations. The rank is where the cost would
place among the 32 teams' costs (``results/ihtc2024_ph1_results.csv``), as the competition
ranked: ties share the mean of their places, and no feasible solution counts as 100000000.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from careflow.domain.errors import InvalidRequest
from careflow.planning.ihtc.instance import load_instance
from careflow.planning.ihtc.score import score
from careflow.planning.ihtc.solution import load_solution, write_solution
from careflow.planning.ihtc.solve import solve

__all__ = [
    "COLUMNS",
    "DEFAULT_DATA",
    "INFEASIBLE",
    "SETS",
    "BenchRow",
    "BenchRun",
    "BenchSummary",
    "Progress",
    "best_known",
    "competition_costs",
    "competition_rank",
    "gap",
    "instance_paths",
    "markdown_report",
    "rounds_cell",
    "row_cells",
    "run_bench",
    "summarize",
    "summary_line",
]

# ../shared/data/ihtc2024 beside the repository, as the tests and bench scripts find it.
DEFAULT_DATA = Path(__file__).resolve().parents[5] / "shared" / "data" / "ihtc2024"
SETS = ("test", "small", "public")
INFEASIBLE = 100_000_000  # the competition's cost for a team without a feasible solution
WORKER = "careflow.planning.ihtc.bench"  # this module, run as the child (see _work)
LATE_TOLERANCE = 0.5  # seconds past the limit before a solve that returned counts as late


@dataclass(frozen=True, slots=True)
class BenchRow:
    """One instance's run: ``status`` is ok, late (solved past the limit), overran (killed) or crashed.

    ``seconds`` is the time inside ``solve`` (what the limit governs); ``process_seconds`` the
    child's whole life, starting Python and reading the instance included.
    """

    instance: str
    status: str
    cost: int | None
    best_known: int | None
    gap: float | None
    rank: float | None
    hard_violations: int | None
    seconds: float | None
    process_seconds: float
    peak_mb: float
    detail: str = ""
    started: str = ""  # when this instance's child started (ISO 8601, UTC)
    rounds: tuple[int, ...] = ()  # the cost of each whole solve (``Solved.rounds``); empty if unknown
    stalled_at: float | None = None  # seconds in when the first solve's search stalled (``Solved``)


@dataclass(frozen=True, slots=True)
class BenchSummary:
    """The figures an issue quotes: gaps over instances with a best known and no hard violation."""

    instances: int
    mean_gap: float | None
    max_gap: float | None
    above_20_percent: int
    with_hard_violations: tuple[str, ...]
    overran: tuple[str, ...]
    crashed: tuple[str, ...]
    worst_rank: float | None
    max_peak_mb: float


@dataclass(frozen=True, slots=True)
class BenchRun:
    """A run: its settings, where and when it ran, and its rows; ``planned`` names every
    instance it was asked for, so a run cut short shows what it did not reach."""

    set_name: str
    time_limit: float
    threads: int
    seed: int
    grace: float
    machine: dict[str, Any]
    commit: str
    date: str
    rows: tuple[BenchRow, ...]
    summary: BenchSummary
    planned: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every planned instance has its row."""
        return len(self.rows) >= len(self.planned)

    def to_json(self) -> dict[str, Any]:
        """The run as JSON-ready data (gaps as fractions, seconds and megabytes rounded)."""
        data = asdict(self)
        data["complete"] = self.complete
        for row in data["rows"]:
            for key, digits in (("gap", 4), ("seconds", 2), ("process_seconds", 2), ("peak_mb", 1),
                                ("stalled_at", 1)):
                row[key] = _rounded(row[key], digits)
        for key, digits in (("mean_gap", 4), ("max_gap", 4), ("max_peak_mb", 1)):
            data["summary"][key] = _rounded(data["summary"][key], digits)
        return data


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


Progress = Callable[[int, int, str, BenchRow | None], None]
"""Called as ``(index, total, instance, None)`` before an instance and with its row after it."""


def instance_paths(data: Path, set_name: str, names: Sequence[str] = ()) -> list[Path]:
    """The instance files of ``set_name`` under ``data``, or only ``names`` (in that order)."""
    if set_name not in SETS:
        raise InvalidRequest(f"unknown set {set_name!r}; choose one of {', '.join(SETS)}", field="set")
    folder = data / set_name
    if not folder.is_dir():
        raise InvalidRequest(f"no IHTC-2024 data at {data} (no {set_name}/ folder)", field="data")
    known = {path.stem: path for path in sorted(folder.glob("*.json"))}
    if not names:
        return list(known.values())
    paths: list[Path] = []
    for name in dict.fromkeys(name.strip().removesuffix(".json") for name in names):
        if name not in known:
            span = f"{min(known)}..{max(known)}" if known else "none"
            raise InvalidRequest(f"no instance {name!r} in {set_name}/ ({span})", field="instances")
        paths.append(known[name])
    return paths


def best_known(data: Path) -> dict[str, int]:
    """Best total at the competition's end per public instance (empty without reference_costs.json)."""
    path = data / "reference_costs.json"
    if not path.is_file():
        return {}
    table = json.loads(path.read_text(encoding="utf-8")).get("public_best_known", {})
    return {name: int(entry["best_at_competition_end"]) for name, entry in table.items()}


def competition_costs(data: Path) -> dict[str, tuple[int, ...]]:
    """The 32 teams' phase-1 costs per public instance (empty without the results file)."""
    path = data / "results" / "ihtc2024_ph1_results.csv"
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {row[""].removesuffix(".json"): tuple(int(cost) for team, cost in row.items() if team)
                for row in csv.DictReader(fh)}


def gap(cost: int | None, best: int | None) -> float | None:
    """(cost - best) / best, or None without a cost or a best known."""
    if cost is None or not best:
        return None
    return (cost - best) / best


def competition_rank(cost: int | None, teams: Sequence[int]) -> float:
    """Where ``cost`` would place among the teams' costs: 1 is first, ties share the mean of their
    places, and ``None`` (no feasible solution) ties with the teams that had none."""
    ours = INFEASIBLE if cost is None else min(cost, INFEASIBLE)
    better = sum(other < ours for other in teams)
    tied = sum(other == ours for other in teams)
    return 1 + better + tied / 2


def summarize(rows: Sequence[BenchRow]) -> BenchSummary:
    """The summary of ``rows``."""
    gaps = [row.gap for row in rows if row.gap is not None]
    ranks = [row.rank for row in rows if row.rank is not None]
    return BenchSummary(
        instances=len(rows),
        mean_gap=sum(gaps) / len(gaps) if gaps else None,
        max_gap=max(gaps) if gaps else None,
        above_20_percent=sum(g > 0.2 for g in gaps),
        with_hard_violations=tuple(row.instance for row in rows if row.hard_violations),
        overran=tuple(row.instance for row in rows if row.status in ("late", "overran")),
        crashed=tuple(row.instance for row in rows if row.status == "crashed"),
        worst_rank=max(ranks) if ranks else None,
        max_peak_mb=max((row.peak_mb for row in rows), default=0.0),
    )


@dataclass(frozen=True, slots=True)
class _Child:
    status: str
    process_seconds: float
    seconds: float | None
    peak_mb: float
    detail: str
    rounds: tuple[int, ...] = ()
    stalled_at: float | None = None


def _high_water_kb(pid: int | str) -> int:
    """The peak resident set of a live process in KB (Linux ``VmHWM``), 0 where /proc has none."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def _report(out: Path) -> dict[str, Any]:
    """The child's report: the last line of its output, a JSON object (anything the solver
    printed before it is ignored); empty if there is none."""
    lines = out.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else {}
    except ValueError:
        return {}
    return report if isinstance(report, dict) else {}


def _run_child(instance: Path, solution: Path, time_limit: float, seed: int, threads: int,
               grace: float) -> _Child:
    """Solve ``instance`` into ``solution`` in a child process, killed at ``time_limit + grace``.

    The peak memory is the child's ``VmHWM``, sampled while it runs and reported by it at the
    end: ``ru_maxrss`` from ``wait4`` would also count the parent's pages the child had before
    its ``exec`` (a 160 MB CLI makes every child look 160 MB), so it is only the fallback
    where there is no /proc.
    """
    command = [sys.executable, "-m", WORKER, str(instance), str(solution), "--time-limit", repr(time_limit),
               "--seed", str(seed), "--threads", str(threads)]
    out, err = solution.with_suffix(".out"), solution.with_suffix(".err")
    start = time.monotonic()
    killed, peak_kb = False, 0
    with out.open("wb") as stdout, err.open("wb") as stderr, \
            subprocess.Popen(command, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL) as proc:
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, 0 if killed else os.WNOHANG)
                if pid:
                    break
                peak_kb = max(peak_kb, _high_water_kb(proc.pid))
                if time.monotonic() - start >= time_limit + grace:
                    proc.kill()
                    killed = True
                time.sleep(0.02)
        except BaseException:  # an interrupted bench leaves no solver behind
            proc.kill()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    process_seconds = time.monotonic() - start
    report = _report(out) if proc.returncode == 0 else {}
    peak_kb = max(peak_kb, int(report.get("peak_kb", 0)))
    rusage_kb = usage.ru_maxrss / (1024 if sys.platform == "darwin" else 1)
    peak_mb = (peak_kb or rusage_kb) / 1024
    if killed:
        return _Child("overran", process_seconds, None, peak_mb, f"killed after {time_limit + grace:g} s")
    if proc.returncode != 0:
        lines = err.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        last = lines[-1] if lines else "no message"
        return _Child("crashed", process_seconds, None, peak_mb, f"exit {proc.returncode}: {last}")
    if "seconds" not in report:
        return _Child("crashed", process_seconds, None, peak_mb, "exit 0 without its report line")
    seconds = float(report["seconds"])
    late = seconds > time_limit + LATE_TOLERANCE
    rounds = report.get("rounds")
    stalled_at = report.get("stalled_at")
    return _Child("late" if late else "ok", process_seconds, seconds, peak_mb, "",
                  tuple(int(cost) for cost in rounds) if isinstance(rounds, list) else (),
                  float(stalled_at) if isinstance(stalled_at, int | float) else None)


def _bench_one(path: Path, time_limit: float, seed: int, threads: int, grace: float,
               best: int | None, teams: Sequence[int] | None) -> BenchRow:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="careflow-ihtc-") as scratch:
        solution_path = Path(scratch) / "solution.json"
        child = _run_child(path, solution_path, time_limit, seed, threads, grace)
        cost = violations = None
        detail = child.detail
        status = child.status
        if status in ("ok", "late"):
            try:
                instance = load_instance(path)
                result = score(instance, load_solution(solution_path, instance))
            except InvalidRequest as exc:
                status, detail = "crashed", f"unreadable solution: {exc.message}"
            else:
                cost, violations = result["total_cost"], sum(result["violations"].values())
    feasible = cost if violations == 0 else None
    return BenchRow(
        instance=path.stem, status=status, cost=cost, best_known=best,
        gap=gap(feasible, best), rank=competition_rank(feasible, teams) if teams else None,
        hard_violations=violations, seconds=child.seconds, process_seconds=child.process_seconds,
        peak_mb=child.peak_mb, detail=detail, started=started, rounds=child.rounds,
        stalled_at=child.stalled_at,
    )


def run_bench(data: Path, set_name: str, names: Sequence[str] = (), *, time_limit: float,
              threads: int = 1, seed: int = 0, grace: float | None = None,
              progress: Progress | None = None,
              on_row: Callable[[BenchRun], None] | None = None) -> BenchRun:
    """Solve each instance of the set (or ``names`` of it) in its own process and score it.

    ``grace`` (default: 10 s or a tenth of the limit, whichever is more) is how long past the
    limit a child may run before it is killed and reported as overran. ``on_row`` is handed
    the run so far after each instance, so a caller can keep what a long run has done.
    """
    paths = instance_paths(data, set_name, names)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    grace = max(10.0, time_limit / 10) if grace is None else grace
    best, competition = best_known(data), competition_costs(data)
    machine, commit = _machine(), _commit()

    def so_far(rows: Sequence[BenchRow]) -> BenchRun:
        return BenchRun(set_name=set_name, time_limit=time_limit, threads=threads, seed=seed, grace=grace,
                        machine=machine, commit=commit, date=started, rows=tuple(rows),
                        summary=summarize(rows), planned=tuple(path.stem for path in paths))

    rows: list[BenchRow] = []
    for index, path in enumerate(paths):
        if progress is not None:
            progress(index, len(paths), path.stem, None)
        rows.append(_bench_one(path, time_limit, seed, threads, grace,
                               best.get(path.stem), competition.get(path.stem)))
        if progress is not None:
            progress(index, len(paths), path.stem, rows[-1])
        if on_row is not None:
            on_row(so_far(rows))
    return so_far(rows)


def _machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "python": platform.python_version()}


def _commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
                              capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def _cell(value: object, fmt: str = "{}") -> str:
    return "" if value is None else fmt.format(value)


COLUMNS = ("instance", "cost", "best known", "gap", "rank of 33", "hard violations", "seconds",
           "process s", "peak MB", "rounds", "status")


def rounds_cell(row: BenchRow) -> str:
    """How many whole solves ran and, after a stall, when it came and what each solve reached."""
    if row.stalled_at is None:
        return _cell(len(row.rounds) or None)
    costs = ", ".join(f"{cost}" for cost in row.rounds)
    return f"{len(row.rounds)} (stalled at {row.stalled_at:.0f} s: {costs})"


def row_cells(row: BenchRow) -> tuple[str, ...]:
    """The row's cells under ``COLUMNS``, as text (empty where there is no value)."""
    return (row.instance, _cell(row.cost), _cell(row.best_known), _cell(row.gap, "{:.1%}"),
            _cell(row.rank, "{:g}"), _cell(row.hard_violations), _cell(row.seconds, "{:.1f}"),
            f"{row.process_seconds:.1f}", f"{row.peak_mb:.0f}", rounds_cell(row),
            row.status + (f" ({row.detail})" if row.detail else ""))


def _table(rows: Sequence[BenchRow]) -> list[str]:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 2) + "---|"]
    lines.extend("| " + " | ".join(row_cells(row)) + " |" for row in rows)
    return lines


def summary_line(summary: BenchSummary) -> str:
    """The summary in one sentence."""
    def names(group: tuple[str, ...]) -> str:
        return ", ".join(group) if group else "none"

    return (f"{summary.instances} instances; mean gap {_cell(summary.mean_gap, '{:.1%}') or 'n/a'}, "
            f"max gap {_cell(summary.max_gap, '{:.1%}') or 'n/a'}, above 20 %: {summary.above_20_percent}; "
            f"hard violations: {names(summary.with_hard_violations)}; worst rank "
            f"{_cell(summary.worst_rank, '{:g}') or 'n/a'} of 33; max peak {summary.max_peak_mb:.0f} MB; "
            f"overran: {names(summary.overran)}; crashed: {names(summary.crashed)}.")


def markdown_report(run: BenchRun, command: str) -> str:
    """The run as Markdown: how it was made, the table, and the summary."""
    machine = run.machine
    return "\n".join([
        f"# IHTC-2024 bench: {run.set_name}, {run.time_limit:g} s per instance",
        "",
        f"- machine: {machine['platform']}, {machine['cpus']} CPUs, Python {machine['python']}",
        f"- command: `{command}`",
        f"- commit: {run.commit}",
        f"- date: {run.date}",
        f"- time limit {run.time_limit:g} s (killed {run.grace:g} s after it), "
        f"{run.threads} thread{'s' * (run.threads != 1)}, seed {run.seed}; each instance in its own process",
        *([] if run.complete else [
            f"- **partial:** {len(run.rows)} of {len(run.planned)} instances done; not yet run: "
            f"{', '.join(run.planned[len(run.rows):])}"]),
        "",
        "Gap = (cost - best at competition end) / best at competition end, for solutions without "
        "hard violations. Rank: where the cost would place among the 32 teams of phase 1 "
        "(ties share the mean place). Seconds: inside the solver; process s: the child process's wall clock, "
        "Python start and reading the instance included; peak MB: the child's maximum resident set. "
        "Rounds: whole solves; after the first one's search stalled, the cost each reached.",
        "",
        *_table(run.rows),
        "",
        f"Summary: {summary_line(run.summary)}",
        "",
    ])


def _work(argv: Sequence[str] | None = None) -> int:
    """The child: solve one instance, write the solution, print the solve's seconds and peak KB as JSON."""
    parser = argparse.ArgumentParser(prog="python -m careflow.planning.ihtc.bench")
    parser.add_argument("instance", type=Path)
    parser.add_argument("solution", type=Path)
    parser.add_argument("--time-limit", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        instance = load_instance(args.instance)
    except InvalidRequest as exc:
        print(exc.message, file=sys.stderr)
        return 2
    start = time.monotonic()
    solved = solve(instance, args.time_limit, args.seed, threads=args.threads)
    seconds = time.monotonic() - start
    write_solution(args.solution, solved.solution, instance)
    print(json.dumps({"seconds": seconds, "peak_kb": _high_water_kb("self"), "rounds": list(solved.rounds),
                      "stalled_at": solved.stalled_at}))
    return 0


if __name__ == "__main__":
    sys.exit(_work())
