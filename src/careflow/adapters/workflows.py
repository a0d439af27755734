"""Wiring the DBOS workflows to careflow's adapters: the system database from settings,
the case store, the event handlers that wake waiting cases, and start/stop."""

from __future__ import annotations

from careflow.adapters.db.case_store import cases_of
from careflow.config import Settings
from careflow.services.booking import BookingDeps
from careflow.services.dispatch import HandlerRegistry
from careflow.services.ports import Notifier
from careflow.services.surgical_cases import register_case_handlers, resume_requested
from careflow.services.workflows import beds as bed_workflow
from careflow.services.workflows import runtime
from careflow.services.workflows.runtime import SystemDatabase, WorkflowDeps

__all__ = ["start_workflows", "stop_workflows", "system_database", "wire_workflows"]


def system_database(settings: Settings) -> SystemDatabase:
    """A SQLite file beside careflow's database, or a schema of careflow's PostgreSQL database."""
    return SystemDatabase(settings.workflow_system_url(), settings.workflow_schema)


def wire_workflows(settings: Settings, deps: BookingDeps, notifier: Notifier,
                   registry: HandlerRegistry | None) -> WorkflowDeps:
    """Install what the workflows run with (this process may then start and signal them)."""
    wd = WorkflowDeps(deps, notifier, cases_of, settings.case_hold_minutes)
    runtime.configure(wd)
    runtime.set_system_database(system_database(settings))
    if registry is not None:
        register_case_handlers(registry, wd)
    return wd


def start_workflows(settings: Settings, executor_id: str | None = None) -> int:
    """Launch DBOS here (recovering this executor's pending workflows) and enqueue the cases
    left ``requested``; returns how many were."""
    runtime.launch(executor_id or settings.executor_id, settings.workflow_poll_seconds)
    bed_workflow.resume_waiting()  # admissions left waiting without a running wait
    return resume_requested(runtime.deps())


def stop_workflows() -> None:
    runtime.shutdown()
