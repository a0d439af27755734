"""The composition root: wires adapters into the use cases, once, for every entry point.

``bootstrap()`` is called by the API, the CLI and the tests alike; nothing is built at
import time. Tests pass their own unit-of-work factory and clock.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from careflow.config import Settings, load_settings
from careflow.services.booking import BookingDeps
from careflow.services.calendar_cache import CalendarCache
from careflow.services.catalogs import CatalogCache
from careflow.services.ports import Clock, Notifier, UnitOfWorkFactory

__all__ = ["App", "bootstrap", "tune_gc", "utc_now"]


def tune_gc() -> None:
    """Long-lived read models (catalog, calendar) should not be rescanned by every full
    collection: freeze what exists now and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    """What the entry points need: settings, the booking dependencies and the engine."""

    settings: Settings
    deps: BookingDeps
    # adapters/notify's LoggedNotifier (the file channel by default); tests may pass a FakeNotifier
    notifier: Notifier
    engine: Any = None
    events: Any = None  # adapters/events/pump.py's EventPump (None without an engine)
    registry: Any = None  # services/dispatch.py's HandlerRegistry: who handles which outbox event
    recoordination: Any = None  # services/recoordination.py's RecoordinationDeps (None without SQL)
    waitlist: Any = None  # services/waitlist.py's WaitlistDeps (None without SQL)
    workflows: Any = None  # services/workflows/runtime.py's WorkflowDeps (None without SQL)
    beds: Any = None  # services/beds' BedDeps: admissions, discharge and cleaning (None without SQL)
    predictions: Any = None  # services/predictions.py's PredictionDeps (None without SQL)

    @property
    def notification_log(self) -> Any:
        """The notifier's send log (adapters/notify's SendLog), read by the listing; None for a
        notifier that keeps none (a test's FakeNotifier)."""
        return getattr(self.notifier, "send_log", None)

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def _noshow_model(settings: Settings) -> tuple[Any, str]:
    """The operator's no-show model (``noshow_model``), or None and why it could not be loaded
    (logged; predictions then use each site's observed rate and say so)."""
    if not settings.noshow_model:
        return None, ""
    from pathlib import Path

    from careflow.domain.errors import InvalidRequest
    from careflow.predict.noshow_file import load_model

    try:
        return load_model(Path(settings.noshow_model), threads=1), ""
    except InvalidRequest as exc:
        logging.getLogger("careflow.predict").error("CAREFLOW_NOSHOW_MODEL not loaded: %s", exc.message)
        return None, f"the configured no-show model was not loaded ({exc.message})"


def bootstrap(
    settings: Settings | None = None,
    uow: UnitOfWorkFactory | None = None,
    clock: Clock | None = None,
    migrate: bool = True,
    notifier: Notifier | None = None,
) -> App:
    """Build the application: SQL adapters from settings unless a factory is given."""
    settings = settings or load_settings()
    engine = None
    if uow is None:
        from careflow.adapters.db.engine import make_engine
        from careflow.adapters.db.migrator import migrate as run_migrations
        from careflow.adapters.db.uow import SqlUnitOfWorkFactory

        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        if migrate:
            run_migrations(settings.database_url)
        engine = make_engine(settings.database_url)
        uow = SqlUnitOfWorkFactory(engine)
    deps = BookingDeps(uow=uow, catalogs=CatalogCache(), clock=clock or utc_now,
                       hold_minutes=settings.hold_minutes, calendar=CalendarCache(),
                       max_open_holds=settings.max_open_holds_per_patient)
    if notifier is None:
        from careflow.adapters.notify import build_notifier

        notifier = build_notifier(settings, engine, uow, deps.clock)
    events = recoordination = waitlist = None
    from careflow.services.dispatch import HandlerRegistry

    registry = HandlerRegistry()
    if engine is not None:
        from careflow.adapters.db.orchestration_store import runs_of, waitlist_of
        from careflow.adapters.events.pump import build_pump
        from careflow.services import recoordination as recoord
        from careflow.services import waitlist as wl

        policy = recoord.Policy(auto_apply=settings.recoordination_auto_apply,
                                min_notice_hours=settings.recoordination_min_notice_hours)
        recoordination = recoord.RecoordinationDeps(deps, notifier, runs_of, policy)
        for event_type in recoord.TRIGGERS:
            registry.register(event_type, "recoordination", recoord.handle_event(recoordination))
        waitlist = wl.WaitlistDeps(deps, notifier, waitlist_of, settings.waitlist_offer_minutes)
        wl.register_handlers(registry, waitlist)
        events = build_pump(engine, uow, deps.clock, registry, settings.nats_url,
                            max_attempts=settings.event_max_attempts,
                            backoff_seconds=settings.event_backoff_seconds)
    workflows = None
    if engine is not None:  # the DBOS workflows: launched by serve and worker (adapters/workflows.py)
        from careflow.adapters.workflows import wire_workflows

        workflows = wire_workflows(settings, deps, notifier, registry)
        from careflow.adapters.care_paths import wire_care_paths  # referral and imaging readiness

        wire_care_paths(settings, registry)
        if settings.workflows:  # queue items escalate on durable timers (else the sweep does it)
            from careflow.services.workflows import escalation

            registry.register("ExceptionRaised", "escalation", escalation.on_exception_raised)
            registry.register("ExceptionResolved", "escalation", escalation.on_exception_resolved)
    beds = None
    if engine is not None:  # bed placement: the discharge and cleaning handlers, the placement workflow
        from careflow.adapters.db.bed_store import beds_of
        from careflow.services.beds import housekeeping
        from careflow.services.beds.ports import BedDeps
        from careflow.services.workflows import beds as bed_workflow

        beds = BedDeps(deps, beds_of)
        beds = bed_workflow.wire(beds) if settings.workflows else beds
        housekeeping.register(registry, beds)
    if engine is not None:  # staff reallocation: freed pool staff offered where coverage is short
        from careflow.services import reallocation

        reallocation.register_handlers(registry, reallocation.ReallocationDeps(deps.uow, deps.catalogs,
                                                                               deps.clock))
    predictions = None
    if engine is not None:  # predictions: durations, demand, no-show risk, overbooking advice
        from careflow.adapters.db.master_admin import admin_store
        from careflow.adapters.db.site_setting_store import site_settings_of
        from careflow.services.predictions import PredictionDeps
        from careflow.services.predictions import register_handlers as register_predictions

        noshow, problem = _noshow_model(settings)
        predictions = PredictionDeps(deps.uow, deps.catalogs, deps.clock, site_settings_of, noshow=noshow,
                                     admin=admin_store, noshow_problem=problem)
        register_predictions(registry, predictions)  # executable overbooking, applied by the engine
    return App(settings, deps, notifier, engine, events, registry=registry, recoordination=recoordination,
               waitlist=waitlist, workflows=workflows,
               beds=beds, predictions=predictions)
