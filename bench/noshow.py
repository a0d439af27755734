"""No-show model benchmark on the shared public data (issue 6 targets).

Trains on the appointments through 2016-05-13, tests on 2016-05-16 … 2016-05-25 (history for
test rows from every earlier day in the file, outcomes of the same or later days never), and
times training, table scoring and single predictions through the Predictor port.

    .venv/bin/python bench/noshow.py [--data CSV] [--threads 2] [--markdown bench/results/noshow.md]

Prints a table on stderr and one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from careflow.predict.noshow_data import read_appointments
from careflow.predict.noshow_features import build_features, facts_from_features
from careflow.predict.noshow_governance import train
from careflow.predict.noshow_metrics import calibration_table, scores
from careflow.predict.noshow_model import NoShowModel

DATA = Path("/work/shared/data/noshow/appointments_2016-04-29_2016-05-25.csv.gz")
TRAIN_UNTIL = "2016-05-13"
TEST_FROM, TEST_UNTIL = "2016-05-16", "2016-05-25"
TARGETS = {
    "roc_auc": 0.75,
    "brier_improvement": 0.10,
    "train_seconds": 60.0,
    "score_rows_per_second": 100_000,
    "single_prediction_ms": 2.0,
}
console = Console(stderr=True)
NOTES = """The ROC AUC target is not met. Tried on this split, every feature from booking-time facts or
strictly earlier days: the area as a LightGBM category (0.742-0.745: it overfits 81 areas), the
area's earlier-day no-show rate (kept, about neutral), the welfare and condition flags of the
data (+0.0005), the patient's bookings already made for later days, the outcome of the patient's
latest earlier day, the minute of booking, the booking's weekday (all within ±0.001), and boosters
from 7 to 31 leaves and 100 to 1500 rounds (0.745-0.750). The patient history starts with the
data (2016-04-29): 47 % of the test appointments have any. No honest feature found lifted the
AUC further. The calibration slice is the last quarter of the training days (3 of 11; with 2 the
fitted slope was less stable and the test Brier 0.1472). Probabilities above 0.5 come out a
little high on the test days (see the table).

A second round tuned only inside the training window, with the test days not loaded: boosters
fitted on the days through 2016-05-06 and judged on 05-09 … 05-13, and fitted through 05-09 and
judged on 05-10 … 05-13 (ROC AUC, mean of 3-5 seeds; the shipped settings give 0.728 / 0.726).
No candidate added to the 13 features moved either figure by more than +0.001, which is seed
noise: the patient's appointments already booked (booked no later than this one) for the same
or later days or for later days only, every booking the patient made before this one, bookings in
the same session (same second, within 10 minutes, same day), days since the patient's first and
latest booking known at booking time, days since the first earlier-day appointment, a shrunken
earlier-day no-show rate, the outcome of the latest earlier day, whether the booking was made on
the day of an earlier visit (and whether that visit was kept), a booking within 3 days of a missed
appointment, days to the next appointment already booked, how many bookings for the same area and
day (or the whole day) were made before this one, the length of the history window, recency
weights, dropping the first day, the area as a heavily smoothed category. The welfare and
condition flags and sex together gave +0.001 to +0.002 there, but they are sensitive attributes,
outside the issue's feature list and absent from careflow's booking facts: not used. Smaller
trees (4 leaves, rate 0.05, 70 % of the features per tree, 150-250 rounds) gave 0.731 / 0.728,
the best there; on the test days, checked after choosing them, they gave 0.7440 with 150 rounds
(seeds 7-11: 0.7435-0.7448, against 0.7455-0.7465 for the shipped settings) and 0.7463 with 400
rounds, whose table scoring was too slow (68,000 rows/s). The validation days have 10-14 days of
history before them, the test days 17-26, and they do not rank booster settings as the test does;
the settings were left as they were and no feature was added. The test split was looked at three
times in this round (those two settings and the seed spread); nothing was adopted from it.
The ROC AUC stays 0.7464: the 0.75 target is not reached honestly."""


def _utc(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def single_predictions(
    model: NoShowModel, frame: pd.DataFrame, features: pd.DataFrame, calls: int = 1000
) -> dict[str, float]:
    """Milliseconds per ``model.probability`` call on ``calls`` test appointments (p50, p99)."""
    facts = facts_from_features(frame.iloc[:calls], features.iloc[:calls])
    for item in facts[:50]:  # warm-up
        model.probability(item)
    timings = []
    for item in facts:
        began = time.perf_counter()
        model.probability(item)
        timings.append((time.perf_counter() - began) * 1000)
    explain = []
    for item in facts[:200]:
        began = time.perf_counter()
        model.explain(item)
        explain.append((time.perf_counter() - began) * 1000)
    return {
        "p50": statistics.median(timings),
        "p99": float(np.percentile(timings, 99)),
        "explain_p50": statistics.median(explain),
    }


def run(data: Path, threads: int) -> dict[str, Any]:
    """The benchmark's figures."""
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    frame = read_appointments(data, need_outcome=True)
    read_seconds = time.perf_counter() - began
    training = frame[frame["day"] <= _utc(TRAIN_UNTIL)]
    began = time.perf_counter()
    model = train(training, data.name, threads=threads)
    train_seconds = time.perf_counter() - began
    began = time.perf_counter()
    probability_all = model.score(frame)
    score_seconds = time.perf_counter() - began
    test = ((frame["day"] >= _utc(TEST_FROM)) & (frame["day"] <= _utc(TEST_UNTIL))).to_numpy()
    y, p = frame["no_show"].to_numpy()[test], probability_all[test]
    result = scores(y, p, float(training["no_show"].mean()))
    features = build_features(frame[test], model.area_rates)  # only for building the facts of single calls
    single = single_predictions(model, frame[test], features)
    figures: dict[str, Any] = {
        "benchmark": "noshow",
        "data": data.name,
        "train_days": [str(training["day"].min().date()), TRAIN_UNTIL],
        "test_days": [TEST_FROM, TEST_UNTIL],
        "train_rows": len(training),
        "test_rows": int(test.sum()),
        "roc_auc": result["roc_auc"],
        "pr_auc": result["pr_auc"],
        "brier": result["brier"],
        "base_rate_brier": result["base_rate_brier"],
        "brier_improvement": result["brier_improvement"],
        "no_show_rate_test": result["no_show_rate"],
        "mean_probability_test": result["mean_probability"],
        "validation_roc_auc": model.metadata["validation"]["metrics"]["roc_auc"],
        "read_seconds": read_seconds,
        "train_seconds": train_seconds,
        "score_rows": len(frame),
        "score_seconds": score_seconds,
        "score_rows_per_second": len(frame) / score_seconds,
        "single_prediction_ms": {"p50": single["p50"], "p99": single["p99"]},
        "explain_ms_p50": single["explain_p50"],
        "threads": threads,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "model_version": model.version,
        "calibration": calibration_table(y, p),
    }
    figures["targets_met"] = {
        "roc_auc": figures["roc_auc"] >= TARGETS["roc_auc"],
        "brier_improvement": figures["brier_improvement"] >= TARGETS["brier_improvement"],
        "train_seconds": train_seconds <= TARGETS["train_seconds"],
        "score_rows_per_second": figures["score_rows_per_second"] >= TARGETS["score_rows_per_second"],
        "single_prediction_ms": single["p99"] <= TARGETS["single_prediction_ms"],
    }
    return figures


def table(figures: dict[str, Any]) -> Table:
    """The figures next to their targets."""
    out = Table(title=f"no-show model: train ≤ {TRAIN_UNTIL}, test {TEST_FROM} … {TEST_UNTIL}")
    for column in ("figure", "value", "target", "met"):
        out.add_column(column, justify="left" if column == "figure" else "right")
    met = figures["targets_met"]
    rows = [
        ("ROC AUC", f"{figures['roc_auc']:.4f}", "≥ 0.75", met["roc_auc"]),
        ("PR AUC", f"{figures['pr_auc']:.4f}", "", None),
        ("Brier", f"{figures['brier']:.4f}", "", None),
        ("base-rate Brier", f"{figures['base_rate_brier']:.4f}", "", None),
        (
            "Brier improvement",
            f"{100 * figures['brier_improvement']:.1f} %",
            "≥ 10 %",
            met["brier_improvement"],
        ),
        ("training (s)", f"{figures['train_seconds']:.1f}", "≤ 60", met["train_seconds"]),
        (
            "scoring (rows/s)",
            f"{figures['score_rows_per_second']:,.0f}",
            "≥ 100,000",
            met["score_rows_per_second"],
        ),
        (
            "single prediction p50 / p99 (ms)",
            f"{figures['single_prediction_ms']['p50']:.3f} / {figures['single_prediction_ms']['p99']:.3f}",
            "≤ 2",
            met["single_prediction_ms"],
        ),
    ]
    for name, value, target, ok in rows:
        out.add_row(name, value, target, "" if ok is None else ("yes" if ok else "NO"))
    return out


def markdown(figures: dict[str, Any], machine: dict[str, Any], command: str) -> str:
    """The results page (bench/results/noshow.md)."""
    f, met, single = figures, figures["targets_met"], figures["single_prediction_ms"]
    yes = {True: "yes", False: "**no**"}
    lines = [
        "# No-show model benchmark",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine['cpus']} CPUs ({machine['machine']}), Python {machine['python']}, shared with "
        f"other engineers' jobs while it ran (1-minute load average {f['load_average'][0]} before, "
        f"{f['load_average'][1]} after, on 2 cores); LightGBM threads {f['threads']}.  ",
        f"Data: `{f['data']}` (public, CC BY-NC-SA 4.0; the model is not kept). Train "
        f"{f['train_days'][0]} … {f['train_days'][1]} ({f['train_rows']} appointments), "
        f"test {f['test_days'][0]} … {f['test_days'][1]} ({f['test_rows']}).",
        "",
        "| figure | value | target | met |",
        "|---|---:|---:|---|",
        f"| ROC AUC | {f['roc_auc']:.4f} | ≥ 0.75 | {yes[met['roc_auc']]} |",
        f"| PR AUC | {f['pr_auc']:.4f} | | |",
        f"| Brier | {f['brier']:.4f} | | |",
        f"| base-rate Brier | {f['base_rate_brier']:.4f} | | |",
        f"| Brier improvement | {100 * f['brier_improvement']:.1f} % | ≥ 10 % "
        f"| {yes[met['brier_improvement']]} |",
        f"| training, s (features, two boosters, calibration, card) | {f['train_seconds']:.1f} | ≤ 60 "
        f"| {yes[met['train_seconds']]} |",
        f"| scoring all {f['score_rows']} rows (history features + LightGBM), rows/s "
        f"| {f['score_rows_per_second']:,.0f} | ≥ 100,000 | {yes[met['score_rows_per_second']]} |",
        f"| one prediction through the port, ms p50 / p99 (1,000 calls) "
        f"| {single['p50']:.3f} / {single['p99']:.3f} | ≤ 2 | {yes[met['single_prediction_ms']]} |",
        f"| one explanation (SHAP), ms p50 | {f['explain_ms_p50']:.3f} | | |",
        "",
        f"Validation ROC AUC inside training (the calibration slice): {f['validation_roc_auc']:.4f}. "
        f"Test no-show rate {100 * f['no_show_rate_test']:.1f} %, mean predicted "
        f"{100 * f['mean_probability_test']:.1f} %. Reading the CSV took {f['read_seconds']:.2f} s "
        "(not counted in scoring).",
        "",
        "| predicted bin | rows | mean predicted | observed |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {r['low']:.1f}–{r['high']:.1f} | {int(r['rows'])} | {100 * r['predicted']:.1f} % "
              f"| {100 * r['observed']:.1f} % |" for r in f["calibration"]]
    lines += ["", NOTES]
    return "\n".join([*lines, ""])


def main() -> None:
    """Run the benchmark; the JSON object is the last line on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--markdown", type=Path, default=None, help="also write the results page here")
    args = parser.parse_args()
    figures = run(args.data, args.threads)
    console.print(table(figures))
    if args.markdown is not None:
        from _common import machine

        command = "python " + " ".join(["bench/noshow.py", *sys.argv[1:]])
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(figures, machine(), command), encoding="utf-8")
    summary = {k: v for k, v in figures.items() if k != "calibration"}
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
