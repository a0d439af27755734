"""The constructive IHTC-2024 solver on i01-i30: cost, best known, gap and violations per instance.

    .venv/bin/python bench/ihtc_construct.py                    # 5 s each: a few minutes in all
    .venv/bin/python bench/ihtc_construct.py --time-limit 60 --out bench/results/ihtc_construct.md
    .venv/bin/python bench/ihtc_construct.py --time-limit 60 --threads 2 --out bench/results/ihtc_lns.md
    .venv/bin/python bench/ihtc_construct.py --time-limit 600 --threads 2 --instances i16,i27

bench/results/ihtc_construct.md is the 60 s run before CP-SAT; ihtc_lns.md the one with it. The
last line of output is one JSON object (mean and largest gap, instances with a hard violation).

Each instance is solved in this process, one after another (``--threads`` CP-SAT workers), and scored with
``careflow.planning.ihtc.score``; the gap is (cost - best_at_competition_end) / best_at_competition_end.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

from careflow.planning.ihtc.instance import load_instance
from careflow.planning.ihtc.score import score
from careflow.planning.ihtc.solve import solve

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ihtc2024"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-limit", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="CP-SAT workers per call")
    parser.add_argument("--instances", default="", help="comma-separated names (default i01-i30)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown table here")
    args = parser.parse_args()
    best = json.loads((args.data / "reference_costs.json").read_text())["public_best_known"]
    rows: list[str] = []
    gaps: list[float] = []
    infeasible = 0
    names = args.instances.split(",") if args.instances else [f"i{k:02d}" for k in range(1, 31)]
    for name in names:
        instance = load_instance(args.data / "public" / f"{name}.json")
        start = time.monotonic()
        solution = solve(instance, args.time_limit, args.seed, threads=args.threads).solution
        seconds = time.monotonic() - start
        result = score(instance, solution)
        violations = sum(result["violations"].values())
        reference = best[name]["best_at_competition_end"]
        gap = (result["total_cost"] - reference) / reference
        gaps.append(gap)
        infeasible += violations > 0
        cost = result["total_cost"]
        rows.append(f"| {name} | {cost} | {reference} | {gap:.1%} | {violations} | {seconds:.1f} |")
        print(rows[-1], flush=True)
    lines = [
        "# IHTC-2024 solver (greedy + annealing + CP-SAT neighbourhood search), "
        + (", ".join(names) if args.instances else "i01-i30"),
        "",
        f"Time limit {args.time_limit:g} s, {args.threads} thread(s), seed {args.seed}, {platform.machine()},"
        " "
        f"Python {platform.python_version()}. Produced by `python bench/ihtc_construct.py`; gap = "
        "(cost - best_at_competition_end) / best_at_competition_end.",
        "",
        "| instance | cost | best at competition end | gap | hard violations | seconds |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Mean gap {sum(gaps) / len(gaps):.1%}; largest {max(gaps):.1%}; "
        f"instances with a hard violation: {infeasible}; peak resident memory of the process "
        f"{_peak_mb():.0f} MB.",
    ]
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(json.dumps({"instances": len(gaps), "time_limit_s": args.time_limit, "threads": args.threads,
                      "seed": args.seed, "mean_gap": round(sum(gaps) / len(gaps), 4),
                      "max_gap": round(max(gaps), 4),
                      "infeasible": infeasible, "peak_rss_mb": round(_peak_mb()),
                      "machine": platform.machine()}))


def _peak_mb() -> float:
    """The process's peak resident set so far, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
