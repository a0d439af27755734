"""The no-show model: LightGBM on booking-time facts and earlier-day history, calibrated by time.

Training holds out the latest training days (about a quarter) as a calibration slice: a
booster fitted on the days before it scores the slice, a sigmoid (Platt) fitted on those
out-of-time scores maps log-odds to probabilities, and the slice's metrics become the
model's own validation metrics (drift is judged against them). The shipped booster is
then refitted on every training day with the same settings and keeps that calibration.
Training is deterministic for a given seed and thread count.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# OpenMP threads that spin while waiting make LightGBM about ten times slower on a busy
# two-core machine (measured: 10 s against 1.5 s for one booster); passive waiting must be
# chosen before the OpenMP runtime loads with LightGBM. An explicit setting is respected.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from careflow.domain.errors import InvalidRequest
from careflow.predict.noshow_features import FEATURES, AreaRates, build_features, facts_row
from careflow.predict.ports import AppointmentFacts, Contribution

__all__ = ["PARAMS", "ROUNDS", "Calibration", "NoShowModel", "fit_booster", "train_parts"]

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.12,
    "num_leaves": 7,
    "min_data_in_leaf": 300,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
ROUNDS = 100
CALIBRATION_SHARE = 0.25  # 3 of 11 training days on the shared data; 2 gave a less stable slope

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Calibration:
    """Platt scaling of the booster's log-odds: p = 1 / (1 + exp(-(slope · raw + intercept)))."""

    slope: float
    intercept: float

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for an array of log-odds."""
        return np.asarray(1.0 / (1.0 + np.exp(-(self.slope * raw + self.intercept))), dtype=float)

    @classmethod
    def fit(cls, raw: np.ndarray, outcome: np.ndarray) -> Calibration:
        """The sigmoid that best maps ``raw`` log-odds to ``outcome`` (0/1)."""
        fitted = LogisticRegression(C=1e6, solver="lbfgs").fit(raw.reshape(-1, 1), outcome.astype(int))
        return cls(float(fitted.coef_[0][0]), float(fitted.intercept_[0]))


@dataclass
class NoShowModel:
    """A trained no-show model: implements ``NoShowPredictor`` and scores whole tables."""

    booster: lgb.Booster
    calibration: Calibration
    area_rates: AreaRates
    metadata: dict[str, Any] = field(default_factory=dict)
    threads: int = 2

    @property
    def version(self) -> str:
        """The model's version (``noshow-<last training day>-<data fingerprint, 8 hex>``)."""
        return str(self.metadata.get("version", "noshow-unversioned"))

    def probability(self, facts: AppointmentFacts) -> float:
        """The calibrated probability that the patient does not come."""
        raw = self.booster.predict(
            np.array([facts_row(facts, self.area_rates)]), raw_score=True, num_threads=1
        )
        return 1.0 / (1.0 + math.exp(-(self.calibration.slope * float(raw[0]) + self.calibration.intercept)))

    def explain(self, facts: AppointmentFacts) -> list[Contribution]:
        """Each feature's SHAP contribution in calibrated log-odds, largest effect first (zeros left out)."""
        row = np.array([facts_row(facts, self.area_rates)])
        contributions = self.booster.predict(row, pred_contrib=True, num_threads=1)[0][:-1]
        pairs = [
            (name, float(self.calibration.slope * value))
            for name, value in zip(FEATURES, contributions, strict=True)
        ]
        return sorted((p for p in pairs if p[1] != 0.0), key=lambda item: (-abs(item[1]), item[0]))

    def score_features(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities for a table of model inputs (``build_features``)."""
        raw = self.booster.predict(
            features[list(FEATURES)].to_numpy(dtype=float), raw_score=True, num_threads=self.threads
        )
        return self.calibration.apply(np.asarray(raw, dtype=float))

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities for every row of a prepared appointments table.

        Patient history comes from the table's own rows on earlier days; area rates from the
        model's training days.
        """
        return self.score_features(build_features(frame, self.area_rates))


def fit_booster(features: pd.DataFrame, outcome: pd.Series, seed: int, threads: int) -> lgb.Booster:
    """A LightGBM booster with the model's settings (deterministic for a seed and thread count)."""
    params = {**PARAMS, "seed": seed, "num_threads": threads}
    data = lgb.Dataset(
        features[list(FEATURES)].to_numpy(dtype=float),
        outcome.to_numpy(dtype=float),
        feature_name=list(FEATURES),
        free_raw_data=True,
    )
    return lgb.train(params, data, num_boost_round=ROUNDS)


@dataclass(frozen=True)
class TrainedParts:
    """What training produces before it is described: the model and its out-of-time validation slice."""

    model: NoShowModel
    validation: pd.DataFrame  # the calibration slice's rows (prepared columns)
    validation_probability: np.ndarray
    fit_base_rate: float
    calibration_days: list[str]


def train_parts(
    frame: pd.DataFrame, seed: int = 7, threads: int = 2, progress: Progress | None = None, refit: bool = True
) -> TrainedParts:
    """Train on every row of ``frame`` with a known outcome (see the module docstring)."""
    say = progress or (lambda _step: None)
    frame = frame[frame["no_show"].notna()]
    days = sorted(frame["day"].unique())
    if len(days) < 2:
        raise InvalidRequest(
            "training needs outcomes on at least two different days (a calibration slice "
            "comes after the days the booster learns from)",
            "data",
        )
    if frame["no_show"].nunique() < 2:
        raise InvalidRequest("training needs both outcomes (some no-shows and some arrivals)", "data")
    say("features")
    features = build_features(frame)
    held = max(1, round(CALIBRATION_SHARE * len(days)))
    cut = days[-held]
    fit_rows = (frame["day"] < cut).to_numpy()
    slice_rows = ~fit_rows
    outcome = frame["no_show"]
    if outcome[slice_rows].nunique() < 2:
        raise InvalidRequest(
            "the calibration slice (the latest training days) holds only one outcome", "data"
        )
    say("booster on the earlier days")
    early = fit_booster(features[fit_rows], outcome[fit_rows], seed, threads)
    raw = np.asarray(
        early.predict(
            features[slice_rows][list(FEATURES)].to_numpy(dtype=float), raw_score=True, num_threads=threads
        ),
        dtype=float,
    )
    calibration = Calibration.fit(raw, outcome[slice_rows].to_numpy())
    booster = early
    if refit:
        say("booster on every training day")
        booster = fit_booster(features, outcome, seed, threads)
    model = NoShowModel(booster, calibration, AreaRates.of(frame), threads=threads)
    return TrainedParts(
        model,
        frame[slice_rows],
        calibration.apply(raw),
        float(outcome[fit_rows].mean()),
        [str(pd.Timestamp(day).date()) for day in days[-held:]],
    )
