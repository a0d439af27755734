"""Governed no-show models: every trained model carries its version, the fingerprint of its
training data, its window, features, validation metrics, fairness by group, library versions
and a model card."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from typing import Any

import pandas as pd

from careflow.predict.noshow_data import fingerprint
from careflow.predict.noshow_features import FEATURES
from careflow.predict.noshow_metrics import DEFAULT_THRESHOLD, calibration_table, fairness, scores
from careflow.predict.noshow_model import PARAMS, ROUNDS, NoShowModel, Progress, train_parts

__all__ = ["model_card", "train"]

LICENCE_NOTE = (
    "The public Vitória 2016 appointment data is licensed CC BY-NC-SA 4.0 (attribution, "
    "non-commercial, share-alike): a model trained on it is for evaluation and tests, never a "
    "product default."
)


def train(
    frame: pd.DataFrame,
    source: str,
    seed: int = 7,
    threads: int = 2,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Progress | None = None,
) -> NoShowModel:
    """Train on the known outcomes in ``frame`` and describe the model (metadata and model card).

    ``source`` names the training data in the metadata (a file name, never its rows).
    """
    known = frame[frame["no_show"].notna()]
    parts = train_parts(known, seed=seed, threads=threads, progress=progress)
    digest = fingerprint(known)
    last_day = pd.Timestamp(known["day"].max())
    validation = parts.validation
    metadata: dict[str, Any] = {
        "version": f"noshow-{last_day:%Y%m%d}-{digest[:8]}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_data": {
            "source": source,
            "fingerprint": f"sha256:{digest}",
            "rows": len(known),
            "patients": int(known["PatientId"].nunique()),
            "first_day": str(pd.Timestamp(known["day"].min()).date()),
            "last_day": str(last_day.date()),
            "no_show_rate": float(known["no_show"].mean()),
        },
        "features": list(FEATURES),
        "booster": {"library": "lightgbm", "params": {**PARAMS, "seed": seed}, "rounds": ROUNDS},
        "calibration": {
            "method": "sigmoid (Platt) on the booster's log-odds",
            "fitted_on_days": parts.calibration_days,
        },
        "validation": {
            "days": parts.calibration_days,
            "metrics": scores(
                validation["no_show"].to_numpy(), parts.validation_probability, parts.fit_base_rate
            ),
            "calibration_table": calibration_table(
                validation["no_show"].to_numpy(), parts.validation_probability
            ),
            "threshold": threshold,
            "fairness": fairness(validation, parts.validation_probability, threshold),
        },
        "libraries": {name: package_version(name) for name in ("lightgbm", "scikit-learn", "pandas", "numpy")}
        | {"python": platform.python_version()},
    }
    metadata["card"] = model_card(metadata)
    parts.model.metadata = metadata
    return parts.model


def _pct(value: float) -> str:
    return "n/a" if value != value else f"{100 * value:.1f} %"


def _num(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"


def model_card(meta: dict[str, Any]) -> str:
    """The model card (Markdown) for a model's metadata."""
    data, validation = meta["training_data"], meta["validation"]
    m = validation["metrics"]
    lines = [
        f"# Model card: {meta['version']}",
        "",
        "## Intended use",
        "Advice for schedulers: the probability that a patient does not come to a booked outpatient "
        "appointment, with the features that moved it. It informs reminders, outreach and overbooking "
        "*policy*; it never books, cancels or refuses anything by itself, and every prediction is recorded "
        "with this version. Not for judging individual patients, and not for any clinical decision.",
        "",
        "## What is known when",
        "- At booking: lead time (days from booking to the appointment day), same-day booking, the "
        "appointment's weekday, the hour it was booked, whether a reminder (SMS) is sent, age, area, and "
        "the patient's other appointments on that day booked no later than this one (a count).",
        "- By the day before the appointment: outcomes of the patient's appointments on *earlier days* "
        "(how many, how many missed, days since the latest, their mean lead time). The model is meant to "
        "be scored then; scored at booking, only the outcomes known by then should be supplied.",
        "- Area no-show rate: from the model's training days (in training, each row sees only earlier days).",
        "- Never: the outcome of any appointment on the same day or a later day.",
        "",
        "## Training data",
        f"- Source: `{data['source']}`, {data['rows']} appointments of {data['patients']} patients, "
        f"{data['first_day']} to {data['last_day']}, no-show rate {_pct(data['no_show_rate'])}.",
        f"- Fingerprint: `{data['fingerprint']}`.",
        f"- {LICENCE_NOTE}",
        "",
        "## Model",
        f"LightGBM ({meta['booster']['rounds']} rounds, {meta['booster']['params']['num_leaves']} leaves, "
        f"seed {meta['booster']['params']['seed']}); {meta['calibration']['method']}, fitted on the latest "
        f"training days ({', '.join(validation['days'])}) scored by a booster that had not seen them; "
        "the shipped booster is refitted on every training day and keeps that calibration.",
        f"Features: {', '.join(meta['features'])}.",
        "",
        f"## Validation metrics (out of time: {', '.join(validation['days'])})",
        f"ROC AUC {_num(m['roc_auc'])}, PR AUC {_num(m['pr_auc'])}, Brier {_num(m['brier'])} against "
        f"{_num(m['base_rate_brier'])} for the base rate ({_pct(m['brier_improvement'])} better); "
        f"{int(m['rows'])} appointments, observed no-show rate {_pct(m['no_show_rate'])}, mean predicted "
        f"{_pct(m['mean_probability'])}.",
        "",
        "| predicted bin | rows | mean predicted | observed |",
        "|---|---:|---:|---:|",
        *(
            f"| {r['low']:.1f}–{r['high']:.1f} | {int(r['rows'])} | {_pct(r['predicted'])} | "
            f"{_pct(r['observed'])} |"
            for r in validation["calibration_table"]
        ),
        "",
        f"## Fairness (validation days; flagged = risk ≥ {validation['threshold']:.2f})",
        "| attribute | group | rows | no-show rate | mean risk | FPR | FNR | Brier | ROC AUC |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {g['attribute']} | {g['group']} | {g['rows']} | {_pct(g['no_show_rate'])} | "
            f"{_pct(g['mean_probability'])} | {_pct(g['fpr'])} | {_pct(g['fnr'])} | {_num(g['brier'])} | "
            f"{_num(g['roc_auc'])} |"
            for g in validation["fairness"]
        ),
        "",
        "Sex is not a feature; age is. Differences in FPR/FNR between groups follow partly from different "
        "base rates; review them before using a threshold for outreach.",
        "",
        "## Limits",
        "- Trained on one Brazilian city's public clinics in 2016; expect a different base rate and "
        "different effects elsewhere. Retrain on local data and watch `careflow noshow drift`.",
        "- History starts with the data: a patient's appointments before its first day are unknown.",
        "- Probabilities above about 0.5 are rare in training and less reliable.",
        "",
        f"Libraries: {', '.join(f'{k} {v}' for k, v in meta['libraries'].items())}. "
        f"Created {meta['created']}.",
        "",
    ]
    return "\n".join(lines)
