"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from careflow.api.deps import AppDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(app: AppDep) -> dict[str, Any]:
    """Up, with the database reachable and the master-data version."""
    with app.deps.uow() as uow:
        version = uow.master.version()
    return {"status": "ok", "master_version": version}
