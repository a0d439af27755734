"""What the workflows run with, set once by the composition root.

DBOS workflows and steps are module-level functions (DBOS registers them at import and
finds them again by name when it recovers a workflow after a crash), so their
dependencies cannot be passed as arguments: ``configure`` installs them here and each
step reads them through ``deps()``. Arguments and results of workflows and steps stay
JSON-ready (ids, ISO times), because DBOS records them to resume without repeating.
"""

from __future__ import annotations

from dataclasses import dataclass

from careflow.services.booking import BookingDeps
from careflow.services.ports import Notifier

__all__ = ["WorkflowDeps", "configure", "deps"]


@dataclass(frozen=True)
class WorkflowDeps:
    booking: BookingDeps  # unit of work, catalogs, clock, hold minutes
    notifier: Notifier


_current: WorkflowDeps | None = None


def configure(workflow_deps: WorkflowDeps) -> None:
    global _current
    _current = workflow_deps


def deps() -> WorkflowDeps:
    if _current is None:
        raise RuntimeError("workflows are not configured: call runtime.configure() at start-up")
    return _current
