"""Synthetic appointments in the schema of the public no-show data (no real patient).

Lead time, age and a patient's own habit drive the no-shows, so a model has something to
learn; a patient who missed before tends to miss again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path("/work/shared/data/noshow/appointments_2016-04-29_2016-05-25.csv.gz")
AREAS = ("CENTRO", "JARDIM DA PENHA", "MARUÍPE", "ITARARÉ", "SANTA MARTHA")


def synthetic_appointments(rows: int = 3000, days: int = 10, seed: int = 1) -> pd.DataFrame:
    """``rows`` appointments over ``days`` weekdays from 2016-05-02, as the CSV columns."""
    rng = np.random.default_rng(seed)
    patients = max(rows // 3, 1)
    patient = rng.integers(0, patients, rows)
    habit = rng.normal(-1.6, 1.0, patients)
    day = pd.bdate_range("2016-05-02", periods=days, tz="UTC")[rng.integers(0, days, rows)]
    lead = rng.choice([0, 0, 1, 2, 5, 9, 15, 30, 45], rows)
    booked_at = pd.to_timedelta(rng.integers(7 * 3600, 18 * 3600, rows), unit="s")
    scheduled = day - pd.to_timedelta(lead, unit="D") + booked_at
    age = rng.integers(0, 95, rows)
    sms = (lead > 2) & (rng.random(rows) < 0.5)
    logit = habit[patient] + 0.05 * np.minimum(lead, 40) - 0.01 * age - 1.2 * (lead == 0) + 0.4
    missed = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({
        "PatientId": (patient * 7919 + 1000003).astype(float),
        "AppointmentID": np.arange(5_600_000, 5_600_000 + rows),
        "Gender": rng.choice(["F", "M"], rows, p=[0.65, 0.35]),
        "ScheduledDay": scheduled.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "AppointmentDay": day.strftime("%Y-%m-%dT00:00:00Z"),
        "Age": age,
        "Neighbourhood": rng.choice(AREAS, rows),
        "Scholarship": 0, "Hipertension": 0, "Diabetes": 0, "Alcoholism": 0, "Handcap": 0,
        "SMS_received": sms.astype(int),
        "No-show": np.where(missed, "Yes", "No"),
    })


def appointment(patient: str, booked: str, day: str, missed: bool | None, appointment_id: int,
                age: int = 40, area: str = "CENTRO", sms: int = 0) -> dict[str, object]:
    """One appointment row in the CSV schema (``missed`` None: outcome not known yet)."""
    return {"PatientId": patient, "AppointmentID": appointment_id, "Gender": "F", "ScheduledDay": booked,
            "AppointmentDay": f"{day}T00:00:00Z", "Age": age, "Neighbourhood": area, "Scholarship": 0,
            "Hipertension": 0, "Diabetes": 0, "Alcoholism": 0, "Handcap": 0, "SMS_received": sms,
            "No-show": "" if missed is None else ("Yes" if missed else "No")}
