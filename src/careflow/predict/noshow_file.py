"""No-show model files: one JSON document holding the booster, its calibration and its metadata.

Format ``careflow.noshow/1``::

    {"format": "careflow.noshow/1", "integrity": "sha256:<hex>", "metadata": {...},
     "calibration": {"slope": ..., "intercept": ...},
     "area_rates": {"rates": {...}, "overall": ...}, "booster": "<LightGBM model text>"}

``integrity`` is the sha256 of the rest of the document in canonical JSON; loading
refuses a file whose content does not match it (edited by hand, truncated, corrupted), an
unknown format, or anything that is not such a document. It detects changes, it does not
prove who made the file (there is no signing key). No pickle: loading runs no code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import lightgbm as lgb

from careflow.domain.errors import InvalidRequest
from careflow.predict.noshow_features import FEATURES, AreaRates
from careflow.predict.noshow_model import Calibration, NoShowModel

__all__ = ["FORMAT", "load_model", "save_model"]

FORMAT = "careflow.noshow/1"


def _digest(document: dict[str, Any]) -> str:
    body = {key: value for key, value in document.items() if key != "integrity"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def save_model(model: NoShowModel, path: Path) -> None:
    """Write ``model`` to ``path`` (written to a temporary name first, then renamed into place)."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "metadata": model.metadata,
        "calibration": {"slope": model.calibration.slope, "intercept": model.calibration.intercept},
        "area_rates": {"rates": model.area_rates.rates, "overall": model.area_rates.overall},
        "booster": model.booster.model_to_string(),
    }
    document["integrity"] = _digest(document)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, sort_keys=True), encoding="utf-8")
    partial.replace(path)


def load_model(path: Path, threads: int = 2) -> NoShowModel:
    """The model in ``path``; ``InvalidRequest`` naming the problem when it is missing, unreadable,
    of an unknown format or changed since it was saved."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidRequest(f"{path}: no such model file", "model") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"{path}: cannot read the model file", "model") from exc
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise InvalidRequest(f"{path}: not a careflow no-show model (not JSON)", "model") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise InvalidRequest(
            f"{path}: not a careflow no-show model of format {FORMAT} (format: {found!r})", "model"
        )
    if document.get("integrity") != _digest(document):
        raise InvalidRequest(
            f"{path}: the model file was changed after it was saved (integrity check failed)", "model"
        )
    try:
        metadata = document["metadata"]
        if list(metadata["features"]) != list(FEATURES):
            raise InvalidRequest(
                f"{path}: the model was trained on other features than this careflow builds", "model"
            )
        calibration = Calibration(
            float(document["calibration"]["slope"]), float(document["calibration"]["intercept"])
        )
        areas = AreaRates(
            {str(k): float(v) for k, v in document["area_rates"]["rates"].items()},
            float(document["area_rates"]["overall"]),
        )
        booster = lgb.Booster(model_str=document["booster"])
    except (KeyError, TypeError, ValueError, AttributeError, lgb.basic.LightGBMError) as exc:
        raise InvalidRequest(f"{path}: the model file is incomplete or malformed ({exc})", "model") from exc
    return NoShowModel(booster, calibration, areas, metadata, threads=threads)
