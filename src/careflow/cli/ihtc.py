"""`careflow ihtc`: the Integrated Healthcare Timetabling Competition 2024 adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from careflow.cli.common import AsJson, console, emit, fail, read_json
from careflow.domain.errors import InvalidRequest
from careflow.planning.ihtc.instance import Instance, parse_instance
from careflow.planning.ihtc.score import COSTS, score
from careflow.planning.ihtc.solution import Solution, parse_solution, write_solution
from careflow.planning.ihtc.solve import solve

__all__ = ["ihtc_app", "load_instance_or_fail", "load_solution_or_fail"]

ihtc_app = typer.Typer(no_args_is_help=True, help="IHTC-2024: score (and solve) competition instances.")

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
    seed: Annotated[int, typer.Option("--seed", min=0, help="random seed; same seed, same solution")] = 0,
) -> None:
    """Solve an instance within the time limit and write the competition's solution JSON."""
    instance = load_instance_or_fail(instance_file)
    del threads  # accepted now so scripts keep working when CP-SAT search arrives
    solution = solve(instance, time_limit, seed)
    try:
        write_solution(out, solution, instance)
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror}")
    result = score(instance, solution)
    console.print(f"{out}: {len(solution.admissions)}/{len(instance.patients)} admitted, "
                  f"hard violations {sum(result['violations'].values())}, total cost {result['total_cost']}")
