"""Judging no-show models on later days: a time-split evaluation, and drift on recent outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from careflow.domain.errors import InvalidRequest
from careflow.predict.noshow_features import build_features
from careflow.predict.noshow_governance import train
from careflow.predict.noshow_metrics import (
    DEFAULT_THRESHOLD,
    calibration_table,
    expected_calibration_error,
    fairness,
    scores,
)
from careflow.predict.noshow_model import NoShowModel, Progress

__all__ = ["DEFAULT_MAX_AUC_DROP", "DEFAULT_MAX_CALIBRATION_GAP", "Drift", "Evaluation", "drift", "evaluate"]

DEFAULT_MAX_AUC_DROP = 0.05
DEFAULT_MAX_CALIBRATION_GAP = 0.05


@dataclass(frozen=True)
class Evaluation:
    """A model trained on the days before a split and judged on the days from it."""

    model: NoShowModel
    metrics: dict[str, float]
    calibration: list[dict[str, float]]
    fairness: list[dict[str, Any]]
    train_days: tuple[str, str]
    test_days: tuple[str, str]
    probability: np.ndarray
    test: pd.DataFrame


def _day(value: date) -> pd.Timestamp:
    return pd.Timestamp(value.isoformat(), tz="UTC")


def evaluate(
    frame: pd.DataFrame,
    split: date,
    until: date | None = None,
    train_until: date | None = None,
    seed: int = 7,
    threads: int = 2,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Progress | None = None,
    source: str = "data",
) -> Evaluation:
    """Train on the appointments before ``split`` (through ``train_until`` when given), test on
    ``split`` … ``until``; test rows take their history from every earlier day of ``frame``."""
    last_train = train_until or split - timedelta(days=1)
    if last_train >= split:
        raise InvalidRequest("--train-until must be before --split-date", "train_until")
    known = frame[frame["no_show"].notna()]
    train_rows = known[known["day"] <= _day(last_train)]
    test_mask = (known["day"] >= _day(split)) & ((known["day"] <= _day(until)) if until else True)
    if train_rows.empty:
        raise InvalidRequest(f"no appointments with an outcome before {split}", "split_date")
    if not test_mask.any():
        raise InvalidRequest(
            f"no appointments with an outcome from {split}" + (f" to {until}" if until else ""), "split_date"
        )
    model = train(train_rows, source, seed=seed, threads=threads, threshold=threshold, progress=progress)
    if progress:
        progress("scoring the test days")
    features = build_features(known, model.area_rates)
    test = known[test_mask]
    probability = model.score_features(features[test_mask.to_numpy()])
    y = test["no_show"].to_numpy(dtype=float)
    return Evaluation(
        model=model,
        metrics=scores(y, probability, float(train_rows["no_show"].mean())),
        calibration=calibration_table(y, probability),
        fairness=fairness(test, probability, threshold),
        train_days=(str(train_rows["day"].min().date()), str(train_rows["day"].max().date())),
        test_days=(str(test["day"].min().date()), str(test["day"].max().date())),
        probability=probability,
        test=test,
    )


@dataclass(frozen=True)
class Drift:
    """A model's metrics on recent outcomes next to its own validation metrics, and what is flagged."""

    recent: dict[str, float]
    baseline: dict[str, float]
    calibration: list[dict[str, float]]
    calibration_error: float
    flags: list[str]
    days: tuple[str, str]

    @property
    def drifted(self) -> bool:
        """Whether any check failed."""
        return bool(self.flags)


def drift(
    model: NoShowModel,
    frame: pd.DataFrame,
    max_auc_drop: float = DEFAULT_MAX_AUC_DROP,
    max_calibration_gap: float = DEFAULT_MAX_CALIBRATION_GAP,
    since: date | None = None,
) -> Drift:
    """Judge the model on the appointments with known outcomes (from ``since`` on, when given;
    earlier rows of ``frame`` are then history only) and flag an ROC AUC more than
    ``max_auc_drop`` below the model's validation AUC, a mean predicted risk more than
    ``max_calibration_gap`` from the observed rate, or an expected calibration error above
    ``max_calibration_gap``. History comes from the file's earlier days, as in scoring."""
    everything = model.score(frame)
    judged = frame["no_show"].notna() & ((frame["day"] >= _day(since)) if since else True)
    known = frame[judged]
    if known.empty:
        raise InvalidRequest(
            "no appointments with a known outcome (No-show Yes/No) to judge drift on", "data"
        )
    probability = everything[judged.to_numpy()]
    y = known["no_show"].to_numpy(dtype=float)
    baseline = dict(model.metadata.get("validation", {}).get("metrics", {}))
    recent = scores(y, probability, float(baseline.get("no_show_rate", y.mean())))
    table = calibration_table(y, probability)
    error = expected_calibration_error(table)
    flags = []
    if "roc_auc" in baseline and recent["roc_auc"] < baseline["roc_auc"] - max_auc_drop:
        flags.append(
            f"ROC AUC {recent['roc_auc']:.3f} is more than {max_auc_drop:.2f} below the model's "
            f"{baseline['roc_auc']:.3f}"
        )
    if recent["roc_auc"] != recent["roc_auc"]:
        flags.append("ROC AUC cannot be computed: the recent outcomes are all the same")
    gap = recent["mean_probability"] - recent["no_show_rate"]
    if abs(gap) > max_calibration_gap:
        flags.append(
            f"mean predicted risk {recent['mean_probability']:.3f} is {abs(gap):.3f} "
            f"{'above' if gap > 0 else 'below'} the observed rate {recent['no_show_rate']:.3f}"
        )
    if error > max_calibration_gap:
        flags.append(f"expected calibration error {error:.3f} exceeds {max_calibration_gap:.2f}")
    return Drift(
        recent,
        baseline,
        table,
        error,
        flags,
        (str(known["day"].min().date()), str(known["day"].max().date())),
    )
