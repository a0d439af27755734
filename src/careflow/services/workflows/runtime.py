"""What the workflows run with, set once by the composition root, and the DBOS runtime.

DBOS workflows and steps are module-level functions (DBOS registers them at import and
finds them again by name when it recovers a workflow after a crash), so their
dependencies cannot be passed as arguments: ``configure`` installs them here and each
step reads them through ``deps()``. Arguments and results of workflows and steps stay
JSON-ready (ids, ISO times), because DBOS records them to resume without repeating.

The runtime: ``launch`` starts DBOS Transact in this process (its system database is
``SystemDatabase``: a SQLite file beside careflow's, or a schema of careflow's PostgreSQL
database) under a stable executor id, and recovers the workflows this executor left
pending (a crash, a ``kill -9``). Workflows are started through one queue, so any process
may start or signal one (``enqueue``, ``send``: in process when DBOS runs here, else
through a ``DBOSClient``) while the processes that launched DBOS (``careflow serve``,
``careflow worker``) run them.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbos import DBOS, DBOSClient, Queue, SetWorkflowID

from careflow.services.booking import BookingDeps
from careflow.services.ports import Notifier, UnitOfWork
from careflow.services.workflows.case_store import CaseStore

__all__ = [
    "QUEUE",
    "SystemDatabase",
    "WorkflowDeps",
    "configure",
    "deps",
    "enqueue",
    "launch",
    "launched",
    "send",
    "set_system_database",
    "shutdown",
    "workflow_status",
    "workflow_steps",
]

QUEUE = "careflow-workflows"


@dataclass(frozen=True)
class WorkflowDeps:
    booking: BookingDeps  # unit of work, catalogs, clock, hold minutes
    notifier: Notifier
    cases: Callable[[UnitOfWork], CaseStore] | None = None  # the case store on a unit of work
    case_hold_minutes: int = 1440  # how long a case's hold lasts before it is renewed


@dataclass(frozen=True)
class SystemDatabase:
    """Where DBOS keeps workflow state: a SQLAlchemy URL and, on PostgreSQL, a schema."""

    url: str
    schema: str = "dbos"


_current: WorkflowDeps | None = None
_system: SystemDatabase | None = None
_client: DBOSClient | None = None
_queue: Queue | None = None
_launched = False
_lock = threading.Lock()


def configure(workflow_deps: WorkflowDeps) -> None:
    global _current
    _current = workflow_deps


def deps() -> WorkflowDeps:
    if _current is None:
        raise RuntimeError("workflows are not configured: call runtime.configure() at start-up")
    return _current


def set_system_database(system: SystemDatabase) -> None:
    """Where workflows are started and signalled from this process (and run, once launched)."""
    global _system, _client
    with _lock:
        if _system != system and _client is not None:
            _client.destroy()
            _client = None
        _system = system


def _system_database() -> SystemDatabase:
    if _system is None:
        raise RuntimeError("no workflow system database: call runtime.set_system_database() at start-up")
    return _system


def _import_workflows() -> None:
    """Import every module of this package before DBOS launches: recovery finds a pending
    workflow by its registered name, so each must be registered by then, whichever entry
    point (server, worker) started the process."""
    package = importlib.import_module("careflow.services.workflows")
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")


def launched() -> bool:
    return _launched


def launch(executor_id: str, poll_seconds: float = 0.5) -> None:
    """Start DBOS here as ``executor_id``; it resumes the workflows that executor left pending.

    Needs ``configure`` and ``set_system_database`` first. Each process that runs workflows
    needs its own stable executor id: a restarted worker recovers its own workflows."""
    global _launched, _queue
    system = _system_database()
    deps()
    _import_workflows()
    with _lock:
        if _launched:
            return
        DBOS(config={"name": "careflow", "system_database_url": system.url,
                     "dbos_system_schema": system.schema, "executor_id": executor_id,
                     "notification_listener_polling_interval_sec": poll_seconds,
                     "log_level": "WARNING"})
        try:
            DBOS.launch()
            _queue = DBOS.register_queue(QUEUE, polling_interval_sec=poll_seconds)
        except BaseException:
            DBOS.destroy()
            raise
        _launched = True


def shutdown() -> None:
    """Stop DBOS in this process (pending workflows stay pending, for the next launch)."""
    global _launched, _client
    with _lock:
        if _client is not None:
            _client.destroy()
            _client = None
        if _launched:
            DBOS.destroy()
            _launched = False


def _dbos_client() -> DBOSClient:
    global _client
    with _lock:
        if _client is None:
            system = _system_database()
            _client = DBOSClient(system_database_url=system.url, dbos_system_schema=system.schema)
        return _client


def enqueue(workflow: Callable[..., Any], name: str, workflow_id: str, *args: Any) -> None:
    """Start ``workflow`` (registered as ``name``) with id ``workflow_id`` on the queue; a
    second start with the same id is the same workflow (DBOS keys workflows by id)."""
    if _launched and _queue is not None:
        with SetWorkflowID(workflow_id):
            _queue.enqueue(workflow, *args)
        return
    _dbos_client().enqueue({"queue_name": QUEUE, "workflow_name": name, "workflow_id": workflow_id},
                           *args)


def send(workflow_id: str, message: dict[str, Any], topic: str, idempotency_key: str | None = None) -> None:
    """Deliver ``message`` to the workflow's ``DBOS.recv(topic)``; with a key, once."""
    if _launched:
        DBOS.send(workflow_id, message, topic, idempotency_key=idempotency_key)
        return
    _dbos_client().send(workflow_id, message, topic, idempotency_key=idempotency_key)


def workflow_status(workflow_id: str) -> str | None:
    """DBOS's status of the workflow (ENQUEUED, PENDING, SUCCESS, ERROR, ...), or None."""
    if _launched:
        found = DBOS.list_workflows(workflow_ids=[workflow_id])
    else:
        found = _dbos_client().list_workflows(workflow_ids=[workflow_id])
    return str(found[0].status) if found else None


def workflow_steps(workflow_id: str) -> list[str]:
    """The names of the steps DBOS has recorded as finished for the workflow, in order."""
    if _launched:
        steps = DBOS.list_workflow_steps(workflow_id, load_output=False)
    else:
        steps = _dbos_client().list_workflow_steps(workflow_id, load_output=False)
    return [str(step["function_name"]) for step in steps]
