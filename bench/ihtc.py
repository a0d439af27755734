"""The IHTC-2024 solver on the public instances i01-i30, each in its own process, against the competition.

    .venv/bin/python bench/ihtc.py                      # 5 s each, 2 threads: a few minutes in all
    .venv/bin/python bench/ihtc.py --time-limit 60 --out bench/results/ihtc_60s.md
    .venv/bin/python bench/ihtc.py --instances i02,i13 --time-limit 600

Uses ``careflow.planning.ihtc.bench`` (the same runs as ``careflow ihtc bench --set public``):
cost, best at competition end, gap, rank among the 32 phase-1 teams, hard violations, seconds
and peak memory per instance. One line per instance while it runs; the Markdown report only
with --out; the last line of output is one JSON object (the summary and every row).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from careflow.domain.errors import InvalidRequest
from careflow.planning.ihtc.bench import DEFAULT_DATA, BenchRow, markdown_report, run_bench, summary_line


def _progress(index: int, total: int, name: str, row: BenchRow | None) -> None:
    if row is None:
        return
    gap = "" if row.gap is None else f", gap {row.gap:.1%}"
    rank = "" if row.rank is None else f", rank {row.rank:g}"
    solving = "" if row.seconds is None else f"{row.seconds:.1f} s solving, "
    print(f"[{index + 1}/{total}] {name}: {row.status}, cost {row.cost}{gap}{rank}, hard violations "
          f"{row.hard_violations}, {solving}{row.process_seconds:.1f} s in all, {row.peak_mb:.0f} MB",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=5.0, help="seconds per instance (default 5)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--instances", default="", help="only these public instances, e.g. i02,i13")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    args = parser.parse_args()
    names = [name.strip() for name in args.instances.split(",") if name.strip()]
    try:
        run = run_bench(args.data, "public", names, time_limit=args.time_limit, threads=args.threads,
                        seed=args.seed, progress=_progress)
    except InvalidRequest as exc:
        parser.error(exc.message)
    command = shlex.join(["python", "bench/ihtc.py", *sys.argv[1:]])
    print(summary_line(run.summary))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown_report(run, command), encoding="utf-8")
        print(f"wrote {args.out}")
    print(json.dumps({"command": command, **run.to_json()}))


if __name__ == "__main__":
    main()
