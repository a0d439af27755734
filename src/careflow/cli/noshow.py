"""`careflow noshow`: train, score, evaluate and monitor the no-show risk model (advice, audited)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from careflow.cli.common import AsJson, console, emit, fail
from careflow.domain.errors import InvalidRequest

__all__ = ["noshow_app"]

noshow_app = typer.Typer(no_args_is_help=True, help="No-show risk: train, score, evaluate, drift and model cards.")

DataFile = Annotated[Path, typer.Option("--data", metavar="CSV", help="appointments in the schema of the public no-show data (CSV or .csv.gz)")]
ModelFile = Annotated[Path, typer.Option("--model", metavar="MODEL", help="a model file written by `careflow noshow train`")]
Threads = Annotated[int, typer.Option("--threads", min=1, max=64, help="LightGBM threads")]


@contextmanager
def _checked() -> Iterator[None]:
    """careflow's InvalidRequest as one line and exit 2."""
    try:
        yield
    except InvalidRequest as exc:
        fail(exc.message)


def _writable(path: Path, option: str) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        fail(f"{option}: {path} is a directory")
    if not folder.is_dir():
        fail(f"{option}: no directory {folder}")
    if not os.access(folder, os.W_OK):
        fail(f"{option}: cannot write in {folder}")


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not a date (YYYY-MM-DD): {value!r}")


def _optional_date(value: str | None, option: str) -> date | None:
    return None if value is None else _date(value, option)


def _strict(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (strict JSON: null, never NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(item) for item in value]
    return value


@contextmanager
def _progress(title: str) -> Iterator[Any]:
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task(title, total=None)
        yield lambda step: bar.update(task, description=f"{title}: {step}")


def _pct(value: float) -> str:
    return "n/a" if value != value else f"{100 * value:.1f} %"


def _metrics_table(title: str, columns: dict[str, dict[str, float]]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    for name in columns:
        table.add_column(name, justify="right")
    for key in ("rows", "no_show_rate", "mean_probability", "roc_auc", "pr_auc", "brier", "base_rate_brier",
                "brier_improvement"):
        cells = []
        for values in columns.values():
            value = values.get(key, float("nan"))
            cells.append(f"{int(value)}" if key == "rows" else _pct(value) if key in (
                "no_show_rate", "mean_probability", "brier_improvement") else f"{value:.4f}")
        table.add_row(key.replace("_", " "), *cells)
    return table


def _calibration_table(rows: list[dict[str, float]]) -> Table:
    table = Table(title="calibration")
    for column in ("predicted bin", "rows", "mean predicted", "observed"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(f"{row['low']:.1f}–{row['high']:.1f}", str(int(row["rows"])), _pct(row["predicted"]),
                      _pct(row["observed"]))
    return table


def _fairness_table(rows: list[dict[str, Any]], threshold: float) -> Table:
    table = Table(title=f"error rates by group (flagged = risk ≥ {threshold:.2f})")
    for column in ("attribute", "group", "rows", "no-show rate", "mean risk", "FPR", "FNR", "Brier", "ROC AUC"):
        table.add_column(column, justify="left" if column in ("attribute", "group") else "right")
    for g in rows:
        table.add_row(g["attribute"], g["group"], str(g["rows"]), _pct(g["no_show_rate"]), _pct(g["mean_probability"]),
                      _pct(g["fpr"]), _pct(g["fnr"]), f"{g['brier']:.4f}",
                      "n/a" if g["roc_auc"] != g["roc_auc"] else f"{g['roc_auc']:.3f}")
    return table


@noshow_app.command()
def train(
    data: DataFile,
    out: Annotated[Path, typer.Option("--out", metavar="MODEL", help="where to write the model file")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="random seed; same data and seed, same model")] = 7,
    threads: Threads = 2,
) -> None:
    """Train a calibrated model on every appointment with an outcome and write it with its metadata and card."""
    from careflow.predict.noshow_data import read_appointments
    from careflow.predict.noshow_file import save_model
    from careflow.predict.noshow_governance import train as train_model

    _writable(out, "--out")
    with _checked(), _progress("training") as step:
        step("reading")
        frame = read_appointments(data, need_outcome=True)
        model = train_model(frame, data.name, seed=seed, threads=threads, progress=step)
    try:
        save_model(model, out)
    except OSError as exc:
        fail(f"--out: cannot write {out}: {exc.strerror}")
    meta = model.metadata
    console.print(_metrics_table(f"{meta['version']}: validation on {', '.join(meta['validation']['days'])}",
                                 {"validation": meta["validation"]["metrics"]}))
    console.print(f"{out}: model {meta['version']}, {meta['training_data']['rows']} appointments "
                  f"{meta['training_data']['first_day']} … {meta['training_data']['last_day']}, data "
                  f"{meta['training_data']['fingerprint'][:19]}…; `careflow noshow card --model {out}` for its card",
                  soft_wrap=True, highlight=False)


@noshow_app.command()
def score(
    model: ModelFile,
    data: DataFile,
    out: Annotated[Path, typer.Option("--out", metavar="PREDICTIONS.csv", help="AppointmentID,probability per row")],
    threads: Threads = 2,
) -> None:
    """Score every appointment in a file; history comes only from the file's rows on earlier days."""
    from careflow.predict.noshow_data import read_appointments
    from careflow.predict.noshow_file import load_model

    _writable(out, "--out")
    with _checked():
        loaded = load_model(model, threads=threads)
        frame = read_appointments(data)
    probability = loaded.score(frame)
    table = frame[["AppointmentID"]].assign(probability=probability)
    try:
        table.to_csv(out, index=False, float_format="%.6f")
    except OSError as exc:
        fail(f"--out: cannot write {out}: {exc.strerror}")
    console.print(f"{out}: {len(table)} appointments scored by {loaded.version} "
                  f"(mean risk {_pct(float(probability.mean()))})", highlight=False)


@noshow_app.command()
def evaluate(
    data: DataFile,
    split_date: Annotated[str, typer.Option("--split-date", metavar="YYYY-MM-DD", help="first test day")],
    until: Annotated[str | None, typer.Option("--until", metavar="YYYY-MM-DD", help="last test day (default: the last in the file)")] = None,
    train_until: Annotated[str | None, typer.Option("--train-until", metavar="YYYY-MM-DD", help="last training day (default: the day before --split-date)")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", metavar="PNG", help="write a reliability plot here")] = None,
    threshold: Annotated[float, typer.Option("--threshold", min=0.0, max=1.0, help="risk that counts as flagged, for FPR/FNR")] = 0.3,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 7,
    threads: Threads = 2,
    as_json: AsJson = False,
) -> None:
    """Train on the days before a split and report ROC AUC, PR AUC, Brier, calibration and error rates by group."""
    from careflow.predict.noshow_data import read_appointments
    from careflow.predict.noshow_evaluation import evaluate as run_evaluation
    from careflow.predict.noshow_metrics import reliability_plot

    split = _date(split_date, "--split-date")
    last, last_train = _optional_date(until, "--until"), _optional_date(train_until, "--train-until")
    if last is not None and last < split:
        fail("--until: before --split-date")
    if plot is not None:
        _writable(plot, "--plot")
    with _checked(), _progress("evaluating") as step:
        step("reading")
        frame = read_appointments(data, need_outcome=True)
        result = run_evaluation(frame, split, last, last_train, seed=seed, threads=threads, threshold=threshold,
                                progress=step, source=data.name)
    if plot is not None:
        try:
            reliability_plot(result.calibration, plot,
                             f"no-show reliability, {result.test_days[0]} … {result.test_days[1]}")
        except OSError as exc:
            fail(f"--plot: cannot write {plot}: {exc.strerror}")
    if as_json:
        emit(_strict({"train_days": result.train_days, "test_days": result.test_days, "metrics": result.metrics,
              "calibration": result.calibration, "fairness": result.fairness,
              "validation": result.model.metadata["validation"]["metrics"], "version": result.model.version}))
        return
    console.print(_metrics_table(
        f"trained {result.train_days[0]} … {result.train_days[1]}, tested {result.test_days[0]} … {result.test_days[1]}",
        {"test": result.metrics, "validation (last training days)": result.model.metadata["validation"]["metrics"]}))
    console.print(_calibration_table(result.calibration))
    console.print(_fairness_table(result.fairness, threshold))
    if plot is not None:
        console.print(f"reliability plot: {plot}", highlight=False)


@noshow_app.command()
def drift(
    model: ModelFile,
    data: DataFile,
    max_auc_drop: Annotated[float, typer.Option("--max-auc-drop", min=0.0, max=1.0, help="flag an ROC AUC this far below the model's own")] = 0.05,
    max_calibration_gap: Annotated[float, typer.Option("--max-calibration-gap", min=0.0, max=1.0, help="flag a calibration error above this")] = 0.05,
    since: Annotated[str | None, typer.Option("--since", metavar="YYYY-MM-DD", help="judge appointments from this day on; earlier rows are history only")] = None,
    as_json: AsJson = False,
) -> None:
    """Judge a model on recent outcomes against its own validation metrics; exit 1 when drift is flagged."""
    from careflow.predict.noshow_data import read_appointments
    from careflow.predict.noshow_evaluation import drift as judge

    first = _optional_date(since, "--since")
    with _checked():
        loaded = load_or_fail(model)
        result = judge(loaded, read_appointments(data), max_auc_drop, max_calibration_gap, first)
    if as_json:
        emit(_strict({"version": loaded.version, "days": result.days, "recent": result.recent, "baseline": result.baseline,
              "calibration_error": result.calibration_error, "flags": result.flags, "drifted": result.drifted}))
    else:
        console.print(_metrics_table(f"{loaded.version}: recent {result.days[0]} … {result.days[1]}",
                                     {"recent": result.recent, "model (validation)": result.baseline}))
        console.print(_calibration_table(result.calibration))
        for flag in result.flags:
            console.print(f"[bold red]drift:[/] {flag}", highlight=False)
        if not result.flags:
            console.print(f"no drift flagged (expected calibration error {result.calibration_error:.3f})",
                          highlight=False)
    if result.drifted:
        raise typer.Exit(1)


def load_or_fail(path: Path) -> Any:
    """The model in ``path``, or one line naming the problem and exit 2."""
    from careflow.predict.noshow_file import load_model

    with _checked():
        return load_model(path)


@noshow_app.command()
def card(
    model: ModelFile,
    out: Annotated[Path | None, typer.Option("--out", metavar="CARD.md", help="write the card here instead of printing it")] = None,
) -> None:
    """The model card (Markdown): intended use, data and licence, metrics, fairness, limits."""
    loaded = load_or_fail(model)
    text = str(loaded.metadata.get("card", ""))
    if out is None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    _writable(out, "--out")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"--out: cannot write {out}: {exc.strerror}")
    console.print(f"{out}: model card of {loaded.version}", highlight=False)
