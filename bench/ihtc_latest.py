"""The latest run of each IHTC-2024 public instance, from several ``careflow ihtc bench`` reports.

    .venv/bin/python bench/ihtc_latest.py bench/results/ihtc_public_600s*.json \
        --out bench/results/ihtc_public_600s_all.md

Long runs (600 s x 30 instances is five hours on one machine) are made a few instances at a time;
this merges their JSON reports: for each instance, the row of the report with the latest date
(the solver's commit differs between reports, so each row names its report, commit and date).
Runs at another time limit, thread count or seed than the first report's are refused, and so
are rows with hard violations or without a cost. Prints a Rich table and, on its last line, one
JSON object (rows and summary); with --out, writes it as Markdown and the JSON beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from careflow.planning.ihtc.bench import DEFAULT_DATA, best_known, competition_costs, competition_rank, gap

TOP = 5  # the target: a rank among the top 5 teams


@dataclass(frozen=True, slots=True)
class Latest:
    instance: str
    cost: int
    best_known: int
    gap: float
    rank: float
    top_team: int  # the TOP-th best team's cost
    source: str
    date: str


def _report(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        sys.exit(f"ihtc_latest: cannot read {path}: {exc}")
    if not isinstance(report, dict) or not {"rows", "commit", "time_limit"} <= report.keys():
        sys.exit(f"ihtc_latest: {path} is not a `careflow ihtc bench` JSON report")
    if "date" not in report:  # a report merged by hand from one run per instance: its first start
        dates = report.get("dates")
        if not dates:
            sys.exit(f"ihtc_latest: {path} has no date")
        report["date"] = min(dates.values()) if isinstance(dates, dict) else min(dates)
    return report


def latest(paths: list[Path], data: Path) -> tuple[dict[str, Any], list[Latest]]:
    """The reports' time limit, threads and seed, and per instance the row of the latest report."""
    reports = sorted(((_report(p), p) for p in paths), key=lambda rp: str(rp[0]["date"]))
    if not reports:
        return {}, []
    setting = {key: reports[0][0][key] for key in ("time_limit", "threads", "seed")}
    chosen: dict[str, tuple[dict[str, Any], dict[str, Any], Path]] = {}
    for report, path in reports:
        if {key: report[key] for key in setting} != setting:
            sys.exit(f"ihtc_latest: {path} ran with {({k: report[k] for k in setting})}, not {setting}")
        for row in report["rows"]:
            if row.get("cost") is None or row.get("hard_violations"):
                sys.exit(f"ihtc_latest: {path}: {row['instance']} has no feasible cost")
            chosen[row["instance"]] = (row, report, path)
    best, teams = best_known(data), competition_costs(data)
    rows = []
    for name in sorted(chosen):
        row, report, path = chosen[name]
        cost, others = int(row["cost"]), sorted(teams.get(name, ()))
        rows.append(Latest(name, cost, best[name], gap(cost, best[name]) or 0.0,
                           competition_rank(cost, others), others[TOP - 1] if len(others) >= TOP else 0,
                           f"{path.name} ({report['commit']})", str(report["date"])[:16].replace("T", " ")))
    return setting, rows


def summary(rows: list[Latest]) -> dict[str, Any]:
    gaps = [r.gap for r in rows]
    return {"instances": len(rows), "mean_gap": round(statistics.fmean(gaps), 4) if gaps else None,
            "max_gap": round(max(gaps), 4) if gaps else None, "above_20_percent": sum(g > 0.2 for g in gaps),
            f"in_top_{TOP}": sum(r.rank <= TOP for r in rows),
            "median_rank": statistics.median(r.rank for r in rows) if rows else None}


def markdown(rows: list[Latest], setting: dict[str, Any], command: str) -> str:
    s = summary(rows)
    lines = [
        f"# IHTC-2024 public instances at {setting['time_limit']:g} s: the latest run of each", "",
        f"{setting['threads']} threads, seed {setting['seed']}; one run per instance, the latest of the "
        "reports merged (the solver's code changed between them: each row names its report, commit and "
        "start date, UTC). Gap = (cost - best at competition end) / best; rank: where the cost would place "
        "among the 32 teams of phase 1 (33 places, ties share the mean place). 0 hard violations in every "
        "row.", "",
        f"Merged by `{command}`.", "",
        f"| instance | cost | best known | gap | rank of 33 | {TOP}th best team | source | date |",
        "|---|---:|---:|---:|---:|---:|---|---|"]
    lines += [f"| {r.instance} | {r.cost} | {r.best_known} | {r.gap:.1%} | {r.rank:g} | {r.top_team} | "
              f"{r.source} | {r.date} |" for r in rows]
    lines += ["", f"{s['instances']} instances; mean gap {s['mean_gap']:.1%}, largest {s['max_gap']:.1%}, "
              f"above 20 %: {s['above_20_percent']}; in the top {TOP}: {s[f'in_top_{TOP}']} of "
              f"{s['instances']}; median rank {s['median_rank']:g}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="JSON reports of `careflow ihtc bench`")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=None,
                        help="write the Markdown here and the JSON beside it")
    args = parser.parse_args()
    setting, rows = latest(args.reports, args.data)
    if not rows:
        parser.error("no rows in the reports")
    table = Table(title=f"IHTC-2024 public, latest of each at {setting['time_limit']:g} s")
    for column in ("instance", "cost", "best known", "gap", "rank", f"{TOP}th team", "source"):
        table.add_column(column, justify="left" if column in ("instance", "source") else "right")
    for r in rows:
        table.add_row(r.instance, str(r.cost), str(r.best_known), f"{r.gap:.1%}", f"{r.rank:g}",
                      str(r.top_team), r.source)
    Console(stderr=True).print(table)
    result = {**setting, "rows": [{"instance": r.instance, "cost": r.cost, "best_known": r.best_known,
                                   "gap": round(r.gap, 4), "rank": r.rank, f"team_{TOP}": r.top_team,
                                   "source": r.source, "date": r.date} for r in rows],
              "summary": summary(rows)}
    if args.out is not None:
        names = " ".join(str(p) for p in args.reports)
        args.out.write_text(markdown(rows, setting, f"bench/ihtc_latest.py {names} --out {args.out}"),
                            encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
