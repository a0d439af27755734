"""Reading appointment CSV files in the schema of the public no-show data (Vitória, 2016).

Columns: ``PatientId, AppointmentID, Gender, ScheduledDay, AppointmentDay, Age,
Neighbourhood, Scholarship, Hipertension, Diabetes, Alcoholism, Handcap, SMS_received,
No-show``. Scoring does not need the outcome for the rows it scores, but earlier-day rows
are history only when they carry one; a missing or blank ``No-show`` is an unknown outcome.
Anything unusable (no such file, a missing column, a date that does not parse) is an
``InvalidRequest`` naming the problem, never a pandas traceback.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from careflow.domain.errors import InvalidRequest

__all__ = ["OUTCOME", "REQUIRED", "fingerprint", "read_appointments"]

OUTCOME = "No-show"
REQUIRED = (
    "PatientId",
    "AppointmentID",
    "Gender",
    "ScheduledDay",
    "AppointmentDay",
    "Age",
    "Neighbourhood",
    "SMS_received",
)
_DTYPES = {"PatientId": "string", "Gender": "string", "Neighbourhood": "string", OUTCOME: "string"}


def read_appointments(path: Path | str, need_outcome: bool = False) -> pd.DataFrame:
    """The appointments in ``path`` (CSV, optionally gzip), typed and checked.

    The result has ``day`` (the appointment's date, UTC midnight), ``scheduled`` (when it
    was booked, UTC), ``age`` (float, NaN when below 0 or above 115), ``area``, ``reminder``
    (0/1) and ``no_show`` (1.0, 0.0 or NaN when unknown), besides the original columns.
    """
    try:
        frame = pd.read_csv(path, dtype=_DTYPES, low_memory=False)
    except FileNotFoundError as exc:
        raise InvalidRequest(f"{path}: no such file", "data") from exc
    except (OSError, EOFError) as exc:
        raise InvalidRequest(f"{path}: cannot read: {exc}", "data") from exc
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InvalidRequest(f"{path}: not a readable CSV file: {exc}", "data") from exc
    return prepare(frame, str(path), need_outcome)


def prepare(frame: pd.DataFrame, name: str = "data", need_outcome: bool = False) -> pd.DataFrame:
    """Check and type a raw appointments table (see ``read_appointments``)."""
    missing = [column for column in REQUIRED + ((OUTCOME,) if need_outcome else ()) if column not in frame]
    if missing:
        raise InvalidRequest(f"{name}: missing column(s) {', '.join(missing)}", "data")
    if frame.empty:
        raise InvalidRequest(f"{name}: no appointments", "data")
    out = frame.copy()
    out["scheduled"] = _timestamps(out["ScheduledDay"], "ScheduledDay", name)
    out["day"] = _timestamps(out["AppointmentDay"], "AppointmentDay", name).dt.normalize()
    ids = pd.to_numeric(out["AppointmentID"], errors="coerce")
    if ids.isna().any():
        raise InvalidRequest(f"{name}: AppointmentID must be a number (row {_first(ids.isna())})", "data")
    if out["PatientId"].isna().any():
        raise InvalidRequest(f"{name}: PatientId is blank (row {_first(out['PatientId'].isna())})", "data")
    out["AppointmentID"] = ids.astype(np.int64)
    age = pd.to_numeric(out["Age"], errors="coerce").astype(float)
    out["age"] = age.where((age >= 0) & (age <= 115))
    out["area"] = out["Neighbourhood"].fillna("").str.strip().str.upper()
    out["reminder"] = (pd.to_numeric(out["SMS_received"], errors="coerce").fillna(0) > 0).astype(np.int8)
    outcome = out[OUTCOME].str.strip().str.lower() if OUTCOME in out else pd.Series(pd.NA, index=out.index)
    out["no_show"] = outcome.map({"yes": 1.0, "no": 0.0}).astype(float)
    if need_outcome and out["no_show"].isna().any():
        raise InvalidRequest(
            f"{name}: No-show must be Yes or No (row {_first(out['no_show'].isna())})", "data"
        )
    return out


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the rows that trained a model (ids, dates, facts and outcomes), order-independent."""
    columns = ["AppointmentID", "PatientId", "scheduled", "day", "age", "area", "reminder", "no_show"]
    rows = frame[columns].sort_values("AppointmentID")
    digest = hashlib.sha256()
    digest.update(",".join(columns).encode())
    digest.update(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _timestamps(column: pd.Series, label: str, name: str) -> pd.Series:
    parsed = pd.to_datetime(column, utc=True, errors="coerce", format="ISO8601")
    if parsed.isna().any():
        bad = parsed.isna()
        raise InvalidRequest(
            f"{name}: {label} is not a date in row {_first(bad)}: {column[bad].iloc[0]!r}", "data"
        )
    return parsed


def _first(mask: pd.Series) -> int:
    """The 1-based data row (after the header) of the first True in ``mask``."""
    return int(np.flatnonzero(mask.to_numpy())[0]) + 1
