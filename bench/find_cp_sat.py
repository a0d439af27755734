"""bench/find_cp_sat.py: `find` when checking slot by slot runs out of budget and CP-SAT ranks.

A synthetic infusion center (the regional demo's calendars are too full for this to happen
there: its finds see a few dozen slots): 24 chairs, each closed an hour or two at staggered
times every day, four infusion nurse practitioners of whom two are past their weekly overtime
threshold, and iron sucrose at its reorder point, so every option carries a soft warning that
the slot scores do not show. Each find (14-day window, 10 options, in process on SQLite) then
spends its budget of checks and hands the search to CP-SAT (``planning.slot_model``).

Reported: p50/p99 of the whole use case, the share of finds handed to CP-SAT and proven, and
the ranking against the same search checking slot by slot without a budget: how often CP-SAT's
ten options are better, and by how many points the tenth is.

    .venv/bin/python bench/find_cp_sat.py [--runs 60]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from _common import machine, report, sqlite_url, summary_ms
from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.bootstrap import bootstrap, tune_gc
from careflow.config import load_settings
from careflow.domain.calendars import Availability, CalendarException, ExceptionKind, WeeklyBlock
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.options import FindRequest
from careflow.domain.patients import Patient
from careflow.domain.preference_cards import (
    ItemRequirement,
    RoleRequirement,
    RoomRequirement,
    Service,
    ServiceKind,
)
from careflow.domain.resources import (
    ClinicianProfile,
    ContractLimits,
    Credential,
    Resource,
    ResourceKind,
    RoomProfile,
)
from careflow.domain.sites import Position, Site, SiteKind
from careflow.domain.stock import StockLevel
from careflow.planning import slots
from careflow.services.finding import find

ZONE = "America/New_York"
SITE = SiteId("site-infusion")
FIRST = date(2026, 12, 7)  # a Monday
NOW = datetime.combine(FIRST, clock_time(6, 0), tzinfo=ZoneInfo(ZONE))
DAYS = 14
EVERY_DAY = frozenset(range(7))


def _local(day: date, minutes: int) -> datetime:
    return datetime.combine(day, clock_time(minutes // 60, minutes % 60), tzinfo=ZoneInfo(ZONE))


def _closures(rng: random.Random) -> tuple[CalendarException, ...]:
    """One or two closed stretches of 60-120 minutes a day, at random times."""
    out = []
    for d in range(DAYS + 7):
        day = FIRST + timedelta(days=d)
        for _ in range(rng.choice((1, 2))):
            start = rng.randrange(8 * 60, 16 * 60, 10)
            out.append(CalendarException(_local(day, start), _local(day, start + rng.choice((60, 90, 120))),
                                         ExceptionKind.MAINTENANCE, None, reason="booked"))
    return tuple(out)


def infusion_center(seed: int = 7) -> HealthSystem:
    rng = random.Random(seed)
    hours = Availability((WeeklyBlock(EVERY_DAY, clock_time(7), clock_time(19)),), ())
    chairs = [Resource(ResourceId(f"chair-{i:02d}"), SITE, ResourceKind.CHAIR, f"Chair {i}",
                       RoomProfile("infusion", frozenset()), Availability(hours.blocks, _closures(rng)))
              for i in range(1, 25)]
    practitioners = []
    for i in range(1, 5):
        tired = i <= 2  # past a 2-hour weekly overtime threshold with their first case
        contract = ContractLimits(overtime_threshold_week=2.0) if tired else ContractLimits()
        profile = ClinicianProfile("nurse_practitioner", frozenset({"oncology"}), frozenset(),
                                   (Credential("license", date(2030, 12, 31)),), frozenset({"en"}), contract)
        practitioners.append(Resource(ResourceId(f"np-{i}"), SITE, ResourceKind.CLINICIAN, f"NP {i}", profile,
                                      Availability(hours.blocks, _closures(rng))))
    iron = Service(ServiceId("svc-iron"), "INF-IRON", "Iron infusion (1 h)", ServiceKind.INFUSION, 60,
                   "oncology", roles=(RoleRequirement("practitioner", "nurse_practitioner"),),
                   room=RoomRequirement("infusion", kind=ResourceKind.CHAIR),
                   items=(ItemRequirement("iron-sucrose", 1),), slot_minutes=15)
    patients = [Patient(PatientId(f"pt-{i:03d}"), f"MRN-{i:03d}", f"Synthetic Patient {i}", date(1960, 1, 1))
                for i in range(60)]
    return HealthSystem(
        name="Synthetic Infusion Center",
        sites=[Site(SITE, "Infusion Center", SiteKind.CLINIC, ZONE, Position(40.74, -73.99))],
        resources=[*chairs, *practitioners], services=[iron],
        stock=[StockLevel(SITE, "iron-sucrose", "Iron sucrose 200 mg", on_hand=20, reorder_threshold=20)],
        patients=patients)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    url = sqlite_url("find_cp_sat")
    system = infusion_center()
    migrate(url)
    engine = make_engine(url)
    load_health_system(engine, system, replace=True)
    engine.dispose()
    app = bootstrap(load_settings(database_url=url), clock=lambda: NOW)
    patients = [p.id for p in system.patients]

    def request(i: int) -> FindRequest:
        start = NOW + timedelta(hours=(i * 7) % 48)
        return FindRequest(ServiceId("svc-iron"), patients[i % len(patients)], start,
                           start + timedelta(days=DAYS))

    find(request(0), app.deps)  # warm-up
    tune_gc()
    samples, handed, proven, answers = [], 0, 0, []
    for i in range(args.runs):
        began = time.perf_counter()
        result = find(request(i), app.deps)
        samples.append(time.perf_counter() - began)
        handed += result.cp_sat
        proven += result.proven
        answers.append(result.options)
    slots.CHECKS_PER_OPTION = 1_000_000  # the same search, slot by slot with no budget
    better, tenth_gain, exhaustive_s = 0, [], []
    for i in range(args.runs):
        began = time.perf_counter()
        plain = find(request(i), app.deps).options
        exhaustive_s.append(time.perf_counter() - began)
        mine = answers[i]
        assert all(a.score <= b.score for a, b in zip(mine, plain, strict=True)), "CP-SAT ranked worse"
        better += sum(o.score for o in mine) < sum(o.score for o in plain)
        tenth_gain.append(plain[-1].score - mine[-1].score)
    app.dispose()
    head = summary_ms(samples)
    rows = [{"search": "budget, then CP-SAT", **head, "handed": f"{handed / args.runs:.0%}",
             "proven": f"{proven / args.runs:.0%}"},
            {"search": "slot by slot, no budget", **summary_ms(exhaustive_s), "handed": "0%", "proven": "-"}]
    report("find in a 24-chair infusion center, every option warned (14-day window, SQLite)", rows, {
        "bench": "find_cp_sat", "runs": args.runs, **head,
        "cp_sat_share": round(handed / args.runs, 3), "proven_share": round(proven / args.runs, 3),
        "better_share": round(better / args.runs, 3),
        "tenth_option_gain_points_mean": round(statistics.fmean(tenth_gain), 2),
        "no_budget_p50_ms": summary_ms(exhaustive_s)["p50_ms"], "machine": machine(),
    })


if __name__ == "__main__":
    main()
