"""The latest run of each IHTC-2024 public instance, from several ``careflow ihtc bench`` reports.

    .venv/bin/python bench/ihtc_latest.py bench/results/ihtc_public_600s.json \
        bench/results/ihtc_public_600s_i*.json bench/results/ihtc_public_600s_part*.json \
        --out bench/results/ihtc_public_600s_all.md

Long runs (600 s x 30 instances is five hours on one machine) are made a few instances at a time;
this merges their JSON reports: for each instance, the run that started last (its row's
``started``; in older reports, the report's ``date``, or per row its ``dates`` when runs were
merged by hand). A report cut short (``complete`` false) counts with the rows it has. The
solver's commit differs between reports, so each row names its report, commit and date.

Refused, in one line with exit code 2: a report that is not a bench report, another time limit,
thread count or seed than the others, an instance without a best known cost or the teams'
results, and a chosen run that overran, crashed or broke a hard rule.

Prints a Rich table and, as its last line, one JSON object (rows and summary;
``_common.report``); with --out FILE.md, writes the Markdown there and the JSON beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import report
from careflow.planning.ihtc.bench import DEFAULT_DATA, best_known, competition_costs, competition_rank, gap

TOP = 5  # the target: a rank among the top 5 teams
SETTING = ("time_limit", "threads", "seed")


@dataclass(frozen=True, slots=True)
class Run:
    """One instance's run as a report gives it."""

    instance: str
    cost: int | None
    ok: bool  # finished within its limit with no hard violation
    started: datetime
    source: str  # report file and commit


@dataclass(frozen=True, slots=True)
class Latest:
    """The row of the merged table: the latest run of an instance, against the competition."""

    instance: str
    cost: int
    best_known: int
    gap: float
    rank: float
    places: int  # the teams plus us
    fifth_best_team: int
    source: str
    started: datetime


def _runs(path: Path) -> tuple[dict[str, Any], list[Run]]:
    """The report's time limit, threads and seed, and its runs; ValueError names what is wrong."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    keys = {"rows", "commit", *SETTING}
    if not isinstance(report, dict) or not keys <= report.keys() or not isinstance(report["rows"], list):
        needs = ", ".join(sorted(keys))
        raise ValueError(f"{path} is not a `careflow ihtc bench` JSON report (it needs {needs})")
    rows = report["rows"]
    if not all(isinstance(row, dict) and isinstance(row.get("instance"), str) for row in rows):
        raise ValueError(f"{path}: every row needs an instance name")
    dates = report.get("dates")  # hand-merged reports: one start per row, in row order or by instance
    if isinstance(dates, list) and len(dates) == len(rows):
        starts = [str(d) for d in dates]
    elif isinstance(dates, dict):
        starts = [str(dates.get(row["instance"], "")) for row in rows]
    else:
        starts = [str(report.get("date", ""))] * len(rows)
    runs = []
    for row, report_start in zip(rows, starts, strict=True):
        start = str(row.get("started") or report_start)  # rows carry their own start since a899fbe
        try:
            started = datetime.fromisoformat(start)
        except ValueError:
            raise ValueError(f"{path}: {row['instance']} has no start date (got {start!r})") from None
        cost = row.get("cost")
        ok = row.get("status", "ok") == "ok" and not row.get("hard_violations") and isinstance(cost, int)
        runs.append(Run(row["instance"], cost if isinstance(cost, int) else None, ok, started,
                        f"{path.name} ({report['commit']})"))
    return {key: report[key] for key in SETTING}, runs


def latest(paths: list[Path], data: Path) -> tuple[dict[str, Any], list[Latest]]:
    """The reports' time limit, threads and seed, and per instance its latest run against the teams."""
    setting: dict[str, Any] = {}
    chosen: dict[str, Run] = {}
    for path in paths:
        these, runs = _runs(path)
        setting = setting or these
        if these != setting:
            raise ValueError(f"{path} ran with {these}, the others with {setting}")
        for run in runs:
            if run.instance not in chosen or run.started > chosen[run.instance].started:
                chosen[run.instance] = run
    best, teams = best_known(data), competition_costs(data)
    rows = []
    for name in sorted(chosen):
        run = chosen[name]
        if not run.ok or run.cost is None:
            raise ValueError(f"{name}: its latest run ({run.source}) overran, crashed or broke a hard rule")
        if name not in best or len(teams.get(name, ())) < TOP:
            raise ValueError(f"{name}: no best known cost or team results under {data}")
        others = sorted(teams[name])
        rows.append(Latest(name, run.cost, best[name], gap(run.cost, best[name]) or 0.0,
                           competition_rank(run.cost, others), len(others) + 1, others[TOP - 1], run.source,
                           run.started))
    return setting, rows


def summary(rows: list[Latest]) -> dict[str, Any]:
    """Mean and largest gap, how many above 20 % and in the top 5, and the median rank."""
    gaps = [r.gap for r in rows]
    return {"instances": len(rows), "mean_gap": round(statistics.fmean(gaps), 4),
            "max_gap": round(max(gaps), 4), "above_20_percent": sum(g > 0.2 for g in gaps),
            f"in_top_{TOP}": sum(r.rank <= TOP for r in rows),
            "median_rank": statistics.median(r.rank for r in rows)}


def _when(started: datetime) -> str:
    return started.strftime("%Y-%m-%d %H:%M")


def markdown(rows: list[Latest], setting: dict[str, Any], command: str) -> str:
    """The merged table as Markdown, with how it was made and its summary line."""
    s = summary(rows)
    places = max(r.places for r in rows)
    lines = [
        f"# IHTC-2024 public instances at {setting['time_limit']:g} s: the latest run of each", "",
        f"{setting['threads']} threads, seed {setting['seed']}; one run per instance, the latest of the "
        "reports merged (the solver's code changed between them: each row names its report, commit and "
        "start, UTC). Gap = (cost - best at competition end) / best; rank: where the cost would place "
        f"among the {places - 1} teams of phase 1 ({places} places, ties share the mean place). 0 hard "
        "violations in every row.", "",
        f"Merged by `{command}`.", "",
        f"| instance | cost | best known | gap | rank of {places} | {TOP}th best team | source | started |",
        "|---|---:|---:|---:|---:|---:|---|---|"]
    lines += [f"| {r.instance} | {r.cost} | {r.best_known} | {r.gap:.1%} | {r.rank:g} | "
              f"{r.fifth_best_team} | {r.source} | {_when(r.started)} |" for r in rows]
    lines += ["", f"{s['instances']} instances; mean gap {s['mean_gap']:.1%}, largest {s['max_gap']:.1%}, "
              f"above 20 %: {s['above_20_percent']}; in the top {TOP}: {s[f'in_top_{TOP}']} of "
              f"{s['instances']}; median rank {s['median_rank']:g}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="JSON reports of `careflow ihtc bench`")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=None,
                        help="write the Markdown to this .md file and the JSON beside it")
    args = parser.parse_args()
    if args.out is not None and (args.out.suffix != ".md" or not args.out.parent.is_dir()):
        parser.error(f"--out {args.out}: give a .md file in an existing folder")
    written = args.out.with_suffix(".json").resolve() if args.out is not None else None
    reports = [p for p in args.reports if p.resolve() != written]  # a glob may catch the last merge
    try:
        setting, rows = latest(reports, args.data)
    except ValueError as exc:
        parser.exit(2, f"ihtc_latest: {exc}\n")
    if not rows:
        parser.error("no rows in the reports")
    merged = [{"instance": r.instance, "cost": r.cost, "best_known": r.best_known, "gap": round(r.gap, 4),
               "rank": r.rank, "fifth_best_team": r.fifth_best_team, "source": r.source,
               "started": r.started.isoformat()} for r in rows]
    result = {**setting, "rows": merged, "summary": summary(rows)}
    if args.out is not None:
        names = " ".join(str(p) for p in reports)
        args.out.write_text(markdown(rows, setting, f"bench/ihtc_latest.py {names} --out {args.out}"),
                            encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    report(f"IHTC-2024 public, latest of each at {setting['time_limit']:g} s", merged, result)


if __name__ == "__main__":
    main()
