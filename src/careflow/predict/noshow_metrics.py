"""How good a no-show model is: discrimination, calibration, fairness by group, a reliability plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

__all__ = [
    "DEFAULT_THRESHOLD",
    "age_band",
    "calibration_table",
    "expected_calibration_error",
    "fairness",
    "reliability_plot",
    "scores",
]

DEFAULT_THRESHOLD = 0.3
"""The risk above which an appointment counts as flagged, for false-positive and false-negative rates."""

AGE_BANDS = ((0, 18, "0-17"), (18, 40, "18-39"), (40, 65, "40-64"), (65, 200, "65+"))


def scores(outcome: np.ndarray, probability: np.ndarray, base_rate: float) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier, the Brier of always predicting ``base_rate`` and the improvement over it.

    ``base_rate`` is the no-show rate of the training days (what a model without features knows).
    """
    y = np.asarray(outcome, dtype=float)
    p = np.asarray(probability, dtype=float)
    both = len(np.unique(y)) == 2
    brier = float(brier_score_loss(y, p))
    base = float(np.mean((y - base_rate) ** 2))
    return {
        "rows": float(len(y)),
        "no_show_rate": float(y.mean()),
        "mean_probability": float(p.mean()),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": brier,
        "base_rate_brier": base,
        "brier_improvement": (base - brier) / base if base > 0 else float("nan"),
    }


def calibration_table(outcome: np.ndarray, probability: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Predicted against observed no-show rate per equal-width probability bin (empty bins left out)."""
    y = np.asarray(outcome, dtype=float)
    p = np.asarray(probability, dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append(
                {
                    "low": b / bins,
                    "high": (b + 1) / bins,
                    "rows": float(mask.sum()),
                    "predicted": float(p[mask].mean()),
                    "observed": float(y[mask].mean()),
                }
            )
    return rows


def expected_calibration_error(table: list[dict[str, float]]) -> float:
    """The row-weighted mean gap between predicted and observed rates over a calibration table."""
    total = sum(row["rows"] for row in table)
    return (
        sum(row["rows"] * abs(row["predicted"] - row["observed"]) for row in table) / total if total else 0.0
    )


def age_band(age: pd.Series) -> pd.Series:
    """The age band of each age ("unknown" when missing)."""
    bands = pd.Series("unknown", index=age.index, dtype=object)
    for low, high, name in AGE_BANDS:
        bands[(age >= low) & (age < high)] = name
    return bands


def fairness(
    frame: pd.DataFrame, probability: np.ndarray, threshold: float = DEFAULT_THRESHOLD
) -> list[dict[str, Any]]:
    """Error rates by sex and by age band: rows, no-show rate, mean risk, FPR and FNR at
    ``threshold``, Brier and ROC AUC (NaN when a group holds one outcome only)."""
    y = frame["no_show"].to_numpy(dtype=float)
    p = np.asarray(probability, dtype=float)
    sexes = frame["Gender"].fillna("unknown").astype(str).str.strip().str.upper().to_numpy()
    groups = {"sex": sexes, "age band": age_band(frame["age"]).to_numpy()}
    rows: list[dict[str, Any]] = []
    for attribute, values in groups.items():
        for value in sorted(set(values)):
            mask = values == value
            yy, pp = y[mask], p[mask]
            flagged = pp >= threshold
            negatives, positives = (yy == 0).sum(), (yy == 1).sum()
            rows.append(
                {
                    "attribute": attribute,
                    "group": str(value),
                    "rows": int(mask.sum()),
                    "no_show_rate": float(yy.mean()),
                    "mean_probability": float(pp.mean()),
                    "fpr": float((flagged & (yy == 0)).sum() / negatives) if negatives else float("nan"),
                    "fnr": float((~flagged & (yy == 1)).sum() / positives) if positives else float("nan"),
                    "brier": float(np.mean((pp - yy) ** 2)),
                    "roc_auc": float(roc_auc_score(yy, pp)) if negatives and positives else float("nan"),
                }
            )
    return rows


def reliability_plot(table: list[dict[str, float]], path: Path, title: str) -> None:
    """A reliability diagram (predicted against observed rate per bin, the diagonal for reference) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 5.0), dpi=110)
    try:
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
        axes.plot([r["predicted"] for r in table], [r["observed"] for r in table], marker="o", label="model")
        for row in table:
            axes.annotate(
                f"{int(row['rows'])}",
                (row["predicted"], row["observed"]),
                fontsize=7,
                textcoords="offset points",
                xytext=(4, -10),
            )
        axes.set_xlabel("predicted no-show probability")
        axes.set_ylabel("observed no-show rate")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_title(title, fontsize=10)
        axes.legend(loc="upper left", fontsize=8)
        figure.tight_layout()
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
