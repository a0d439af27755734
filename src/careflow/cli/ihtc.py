"""`careflow ihtc`: the Integrated Healthcare Timetabling Competition 2024 adapter."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from careflow.cli.common import AsJson, console, emit, fail, read_json
from careflow.domain.errors import InvalidRequest
from careflow.planning.ihtc.bench import (
    COLUMNS,
    DEFAULT_DATA,
    SETS,
    BenchRow,
    BenchRun,
    instance_paths,
    markdown_report,
    row_cells,
    run_bench,
    summary_line,
)
from careflow.planning.ihtc.instance import Instance, parse_instance
from careflow.planning.ihtc.score import COSTS, score
from careflow.planning.ihtc.solution import Solution, parse_solution, write_solution
from careflow.planning.ihtc.solve import solve

__all__ = ["ihtc_app", "load_instance_or_fail", "load_solution_or_fail"]

ihtc_app = typer.Typer(no_args_is_help=True, help="IHTC-2024: score, solve and benchmark competition instances.")

InstanceFile = Annotated[Path, typer.Argument(metavar="INSTANCE.json", help="an IHTC-2024 instance file")]
SolutionFile = Annotated[Path, typer.Argument(metavar="SOLUTION.json", help="a solution in the competition's format")]


def load_instance_or_fail(path: Path) -> Instance:
    """The instance in ``path``, or one line naming the problem and exit 2."""
    try:
        return parse_instance(read_json(str(path)))
    except InvalidRequest as exc:
        fail(f"{path}: {exc.message}")


def load_solution_or_fail(path: Path, instance: Instance) -> Solution:
    """The solution in ``path`` for ``instance``, or one line naming the problem and exit 2."""
    try:
        return parse_solution(read_json(str(path)), instance)
    except InvalidRequest as exc:
        fail(f"{path}: {exc.message}")


@ihtc_app.command("score")
def score_(instance_file: InstanceFile, solution_file: SolutionFile, as_json: AsJson = False) -> None:
    """Every hard violation and weighted cost of a solution, as the official validator counts them."""
    instance = load_instance_or_fail(instance_file)
    result = score(instance, load_solution_or_fail(solution_file, instance))
    if as_json:
        emit({"violations": result["violations"], "costs": result["costs"], "total_cost": result["total_cost"]})
        return
    hard = Table(title=f"hard violations: {sum(result['violations'].values())}")
    hard.add_column("constraint")
    hard.add_column("violations", justify="right")
    for name, count in result["violations"].items():
        hard.add_row(name, str(count), style="bold red" if count else None)
    console.print(hard)
    costs = Table(title=f"total cost: {result['total_cost']}")
    for column in ("cost", "raw", "weight", "weighted"):
        costs.add_column(column, justify="left" if column == "cost" else "right")
    for name, (_, key) in COSTS.items():
        costs.add_row(name, str(result["raw"][name]), str(getattr(instance.weights, key)), str(result["costs"][name]))
    console.print(costs)


@ihtc_app.command("solve")
def solve_(
    instance_file: InstanceFile,
    out: Annotated[Path, typer.Option("--out", metavar="SOLUTION.json", help="where to write the solution")],
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, help="wall-clock seconds")] = 60.0,
    threads: Annotated[int, typer.Option("--threads", min=1, max=64, help="worker threads (for CP-SAT; the construction uses one)")] = 2,
    seed: Annotated[int, typer.Option("--seed", min=0, help="random seed")] = 0,
    deterministic: Annotated[bool, typer.Option(
        "--deterministic", help="work budgets the clock does not cut and workers that do not race: the same "
        "seed, limit and threads give the same solution (a worse one than without)")] = False,
) -> None:
    """Solve an instance within the time limit and write the competition's solution JSON."""
    instance = load_instance_or_fail(instance_file)
    solved = solve(instance, time_limit, seed, threads=threads, deterministic=deterministic)
    solution = solved.solution
    try:
        write_solution(out, solution, instance)
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror}")
    result = score(instance, solution)
    console.print(f"{out}: {len(solution.admissions)}/{len(instance.patients)} admitted, "
                  f"hard violations {sum(result['violations'].values())}, total cost {result['total_cost']}")
    if solved.repeatable:
        console.print(f"repeatable: seed {seed} with {time_limit:g} s and {threads} thread{'s' * (threads != 1)} "
                      "gives this solution again")
    else:
        console.print("may not repeat: " + ("the clock cut a phase short on this machine" if deterministic else
                                            "the clock ended phases or CP-SAT's workers raced (see --deterministic)"))


@ihtc_app.command("bench")
def bench(
    set_name: Annotated[str, typer.Option("--set", metavar="SET", help=f"the instance set: {', '.join(SETS)}")],
    instances: Annotated[str | None, typer.Option("--instances", metavar="NAMES",
                                                  help="only these instances of the set, e.g. i02,i13")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, help="wall-clock seconds per instance")] = 60.0,
    threads: Annotated[int, typer.Option("--threads", min=1, max=64, help="worker threads per instance")] = 2,
    seed: Annotated[int, typer.Option("--seed", min=0, help="random seed")] = 0,
    out_dir: Annotated[Path, typer.Option("--out-dir", metavar="DIR", help="where to write the JSON and Markdown")] = Path("."),
    data: Annotated[Path, typer.Option("--data", metavar="DIR", help="the IHTC-2024 data folder")] = DEFAULT_DATA,
) -> None:
    """Solve each instance of a set in its own process and compare the costs with the competition's 32 teams.

    The JSON and Markdown are rewritten after each instance, so a run cut short keeps what it
    finished (marked partial, naming the instances it did not reach)."""
    names = [name.strip() for name in (instances or "").split(",") if name.strip()]
    try:
        instance_paths(data, set_name, names)
    except InvalidRequest as exc:
        fail(f"--{exc.field}: {exc.message}")
    _writable_or_fail(out_dir)
    command = shlex.join(["careflow", "ihtc", "bench", "--set", set_name,
                          *(["--instances", ",".join(names)] if names else []),
                          "--time-limit", f"{time_limit:g}", "--threads", str(threads), "--seed", str(seed),
                          "--out-dir", str(out_dir), *(["--data", str(data)] if data != DEFAULT_DATA else [])])
    stem = out_dir / f"ihtc_{set_name}_{time_limit:g}s"
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(f"IHTC {set_name}", total=None)

        def progress(index: int, total: int, name: str, row: BenchRow | None) -> None:
            if row is None:
                bar.update(task, total=total, description=f"{name} ({time_limit:g} s)")
            else:
                bar.advance(task)

        run = run_bench(data, set_name, names, time_limit=time_limit, threads=threads, seed=seed,
                        progress=progress, on_row=lambda so_far: _write_report(so_far, command, stem))
    console.print(_bench_table(run))
    console.print(summary_line(run.summary), soft_wrap=True)
    console.print(f"wrote {stem}.json and {stem}.md", soft_wrap=True)


def _write_report(run: BenchRun, command: str, stem: Path) -> None:
    """The run so far as ``stem``.json and .md, each replaced whole (a reader never sees half a
    file). Suffixes are appended, not swapped: the stem of a 0.5 s run ends in ``0.5s``."""
    texts = {".json": json.dumps({"command": command, **run.to_json()}, indent=2) + "\n",
             ".md": markdown_report(run, command)}
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
        for suffix, text in texts.items():
            target = stem.parent / (stem.name + suffix)
            scratch = stem.parent / (stem.name + suffix + ".part")
            scratch.write_text(text, encoding="utf-8")
            os.replace(scratch, target)
    except OSError as exc:
        fail(f"--out-dir: cannot write {stem.parent}: {exc.strerror}")


def _writable_or_fail(out_dir: Path) -> None:
    """One line and exit 2 unless ``out_dir`` is, or can be made as, a writable directory."""
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        fail(f"--out-dir: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        fail(f"--out-dir: {existing} is not writable")


def _bench_table(run: BenchRun) -> Table:
    threads = f"{run.threads} thread{'s' * (run.threads != 1)}"
    table = Table(title=f"IHTC-2024 {run.set_name}: {run.time_limit:g} s, {threads}, seed {run.seed}")
    for column in COLUMNS:
        left = column in ("instance", "status")
        table.add_column(column, justify="left" if left else "right", min_width=len(column) if left else None)
    for row in run.rows:
        bad = bool(row.hard_violations) or row.status != "ok"
        table.add_row(*row_cells(row), style="bold red" if bad else None)
    return table
