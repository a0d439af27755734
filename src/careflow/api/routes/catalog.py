"""The violation-code catalogue. (The master-data lists that lived here moved to the
management routes, ``manage_*.py``, with the same URLs and page shape.)"""

from __future__ import annotations

from fastapi import APIRouter

from careflow.domain.violations import CODES

router = APIRouter(prefix="/api/v1", tags=["master data"])


@router.get("/violation-codes")
def violation_codes() -> list[dict[str, str]]:
    """Every violation code with its severity, meaning and usual remedy."""
    return [{"code": code.value, "severity": info.severity.value, "meaning": info.meaning,
             "remedy": info.remedy} for code, info in CODES.items()]
