"""``careflow relay``: the outbox to its handlers (in process, or through NATS JetStream)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn

from careflow.cli.common import AsJson, Db, console, database, opened
from careflow.services.dispatch import DeliveryReport


def _line(total: DeliveryReport, pending: int, mode: str) -> str:
    return (f"relay ({mode}): published {total.published}, delivered {total.done}, "
            f"skipped {total.skipped}, retrying {total.failed}, dead {total.dead}, pending {pending}")


async def _run(pump: Any, total: DeliveryReport, interval: float, once: bool, show: bool,
               mode: str) -> None:
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console,
                  disable=not show, transient=True) as progress:
        task = progress.add_task("starting")
        try:
            while True:
                step = await pump.tick()
                total.add(step)
                pending = await asyncio.to_thread(pump.outbox.pending)
                progress.update(task, description=_line(total, pending, mode))
                if once and (step.events == 0 and step.published == 0):
                    break
                if not once:
                    await asyncio.sleep(interval)
        finally:
            await pump.close()


def relay(
    db: Db = None,
    nats_url: Annotated[str | None, typer.Option("--nats-url", help="NATS server (default CAREFLOW_NATS_URL; empty: in process)")] = None,
    interval: Annotated[float, typer.Option("--interval", min=0.05, help="seconds between polls")] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="drain what is there, then stop")] = False,
    as_json: AsJson = False,
) -> None:
    """Relay the outbox until interrupted: to in-process handlers, or to NATS JetStream."""
    extra = {"nats_url": nats_url} if nats_url is not None else {}
    with opened(db, **extra) as app, database(app.settings.database_url):
        mode = f"NATS {app.settings.nats_url}" if app.settings.nats_url else "in process"
        total = DeliveryReport()
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the relay; counts follow
            asyncio.run(_run(app.events, total, interval, once, not as_json, mode))
        pending = app.events.outbox.pending()
    if as_json:
        print(json.dumps({"published": total.published, "delivered": total.done,
                          "skipped": total.skipped, "retrying": total.failed, "dead": total.dead,
                          "pending": pending}))
    else:
        console.print(_line(total, pending, mode))
