"""``careflow worker``: runs the durable workflows and the event pump, without HTTP.

At start it launches DBOS under a stable executor id, which resumes every workflow that
executor left pending (a crash, a ``kill -9``) after its last finished step, and enqueues
the cases still ``requested``. Then, every ``--interval`` seconds, it delivers the outbox
(in process, or through NATS JetStream with ``CAREFLOW_NATS_URL``), which is how events
such as AuthorizationChanged and StockChanged reach waiting cases, and releases expired holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Annotated, Any

import typer

from careflow.cli.common import Db, database, fail, opened

__all__ = ["worker"]

log = logging.getLogger("careflow.worker")


async def _loop(app: Any, interval: float, stop: asyncio.Event) -> None:
    from careflow.services.booking import sweep_expired_holds
    from careflow.services.surgical_cases import resume_requested

    ticks = 0
    while not stop.is_set():
        try:
            if app.events is not None:
                await app.events.tick()
            await asyncio.to_thread(sweep_expired_holds, app.deps)
            ticks += 1
            if ticks % 30 == 0:  # cases recorded while the workflow database was unreachable
                await asyncio.to_thread(resume_requested, app.workflows)
        except Exception:  # a failed tick is retried on the next one
            log.exception("worker tick failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
    if app.events is not None:
        await app.events.close()


async def _main(app: Any, interval: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await _loop(app, interval, stop)


def worker(
    db: Db = None,
    executor_id: Annotated[str | None, typer.Option("--executor-id", help="this worker's stable id (default CAREFLOW_EXECUTOR_ID); a restarted worker resumes its own workflows")] = None,
    interval: Annotated[float, typer.Option("--interval", min=0.05, max=3600, help="seconds between event-pump ticks")] = 1.0,
) -> None:
    """Run the durable workflows and the event pump (no HTTP); recovers pending workflows at start."""
    from careflow.adapters.workflows import start_workflows, stop_workflows

    extra = {"executor_id": executor_id} if executor_id is not None else {}
    with opened(db, **extra) as app, database(app.settings.database_url):
        if app.workflows is None:
            fail("--db: workflows need careflow's SQL database")
        requested = start_workflows(app.settings)
        sys.stdout.write(f"careflow worker {app.settings.executor_id}: running "
                         f"(workflow database {app.settings.workflow_system_url().split('@')[-1]}, "
                         f"{requested} requested case(s) enqueued)\n")
        sys.stdout.flush()
        try:
            asyncio.run(_main(app, interval))
        finally:
            stop_workflows()
    # Workflows still sleeping or waiting hold DBOS's executor threads, which the interpreter
    # would join at exit (a DBOS.sleep cannot be interrupted); their state is durable and the
    # next start resumes them, so leave now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
