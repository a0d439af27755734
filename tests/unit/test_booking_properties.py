"""Whatever schedulers do, no resource is double-booked, no pool is over its headcount and
no stock is reserved beyond what is on hand.

A hypothesis state machine drives the real use cases over the fakes with random
sequences of book, hold, confirm, cancel, reschedule, time passing and the expiry sweep.
A refusal (``Conflict``) or a forbidden step (``InvalidTransition``) is a fine outcome; a
``RaceLost`` is not, because with one writer it means the checks let through what the
store's last guard had to stop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from tests.factories import (
    CASE_DAY,
    NOW,
    block,
    clinician,
    equipment,
    local,
    option,
    patient,
    room,
    site,
    staff_pool,
    stock,
)
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.domain.access import Actor
from careflow.domain.bookings import BookingStatus
from careflow.domain.commands import BookHold, BookOption, CancelBooking, PlaceHold, RescheduleBooking
from careflow.domain.errors import Conflict, InvalidTransition
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import ServiceId
from careflow.domain.occupancy import Occupancy
from careflow.domain.options import Option
from careflow.domain.preference_cards import (
    EquipmentRequirement,
    ItemRequirement,
    RoleRequirement,
    RoomRequirement,
    Service,
    ServiceKind,
    StaffRequirement,
)
from careflow.domain.timespans import overlaps
from careflow.services import booking as use
from careflow.services.booking import BookingDeps
from careflow.services.catalogs import CatalogCache
from careflow.services.ports import RaceLost

ACTOR = Actor("u_scheduler", frozenset({"scheduler"}))
SURGEON = RoleRequirement("surgeon", "surgeon", specialty="orthopedics")
SCOPE = Service(ServiceId("svc_scope"), "SCOPE", "Arthroscopy", ServiceKind.PROCEDURE, 60,
                setup_minutes=15, turnover_minutes=15, roles=(SURGEON,),
                staff=(StaffRequirement("preop_nurse"),), room=RoomRequirement("operating"),
                equipment=(EquipmentRequirement("c_arm"),), items=(ItemRequirement("scope_kit", 1),))
INJECTION = Service(ServiceId("svc_injection"), "INJ", "Joint injection", ServiceKind.PROCEDURE, 30,
                    roles=(SURGEON,), staff=(StaffRequirement("preop_nurse", 2),),
                    room=RoomRequirement("operating"))
PATIENTS = ["pt_1", "pt_2", "pt_3", "pt_4"]
SURGEONS = ["dr_a", "dr_b"]
ROOMS = ["or_1", "or_2"]
SLOTS = [local(day, f"{h:02d}:{m:02d}") for day in (CASE_DAY, "2026-06-04")
         for h in range(7, 18) for m in (0, 30)]


def busy_system() -> HealthSystem:
    """Two surgeons and two rooms share one C-arm, three kits and a pool of two nurses until
    noon and one after."""
    return HealthSystem(
        "Property Health", sites=[site()],
        resources=[clinician("dr_a"), clinician("dr_b"), room("or_1"), room("or_2"), equipment(),
                   staff_pool(headcount=2, blocks=(block("07:00", "12:00", capacity=2),
                                                   block("12:00", "19:00")))],
        services=[SCOPE, INJECTION], stock=[stock("scope_kit", on_hand=3, threshold=0)],
        patients=[patient(pid) for pid in PATIENTS])


@contextmanager
def refusals_allowed(*also: type[Exception]) -> Iterator[None]:
    """A refusal is a fine outcome; a lost race is not (one writer: the checks missed it)."""
    try:
        yield
    except RaceLost:
        raise
    except (Conflict, *also):
        event("refused")


def case(service: Service, start: datetime, pid: str, surgeon: str, room_id: str) -> Option:
    return option(service, start, patient_id=pid, surgeon=surgeon, room=room_id,
                  preop_nurse=["preop_nurses"] * (2 if service is INJECTION else 1),
                  c_arm="c_arm_1" if service is SCOPE else None)


class Schedulers(RuleBasedStateMachine):
    @initialize()
    def open_the_books(self) -> None:
        self.store = FakeUnitOfWorkFactory.of(busy_system())
        self.clock = FixedClock(NOW)
        self.deps = BookingDeps(self.store, CatalogCache(), self.clock)
        self.ids: list[str] = []

    def pick(self, index: int) -> str | None:
        return self.ids[index % len(self.ids)] if self.ids else None

    @rule(service=st.sampled_from([SCOPE, INJECTION]), pid=st.sampled_from(PATIENTS),
          surgeon=st.sampled_from(SURGEONS), room_id=st.sampled_from(ROOMS),
          start=st.sampled_from(SLOTS), as_hold=st.booleans())
    def book_or_hold(self, service: Service, pid: str, surgeon: str, room_id: str,
                     start: datetime, as_hold: bool) -> None:
        opt = case(service, start, pid, surgeon, room_id)
        with refusals_allowed():
            made = (use.place_hold(PlaceHold(opt, ACTOR), self.deps) if as_hold
                    else use.book_option(BookOption(opt, ACTOR), self.deps))
            self.ids.append(made.id)

    @rule(index=st.integers(0, 99))
    def confirm_hold(self, index: int) -> None:
        if (booking_id := self.pick(index)) is not None:
            with refusals_allowed(InvalidTransition):
                use.book_hold(BookHold(booking_id, ACTOR), self.deps)

    @rule(index=st.integers(0, 99))
    def cancel(self, index: int) -> None:
        if (booking_id := self.pick(index)) is not None:
            with refusals_allowed(InvalidTransition):
                use.cancel(CancelBooking(booking_id, "patient request", ACTOR), self.deps)

    @rule(index=st.integers(0, 99), start=st.sampled_from(SLOTS),
          surgeon=st.sampled_from(SURGEONS), room_id=st.sampled_from(ROOMS))
    def reschedule(self, index: int, start: datetime, surgeon: str, room_id: str) -> None:
        if (booking_id := self.pick(index)) is None:
            return
        current = self.store.booking(booking_id)
        service = SCOPE if current.service_id == SCOPE.id else INJECTION
        opt = case(service, start, current.patient_id, surgeon, room_id)
        with refusals_allowed(InvalidTransition):
            use.reschedule(RescheduleBooking(booking_id, opt, "moved", ACTOR), self.deps)

    @rule(minutes=st.sampled_from([2, 11]))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    @rule()
    def expiry_sweep(self) -> None:
        with self.store(write=True) as uow:
            event(f"expired {use.release_expired_holds(uow, self.clock())}")
            uow.commit()

    @invariant()
    def no_lane_is_double_booked_and_no_pool_is_over_its_headcount(self) -> None:
        catalog = self.store(write=False).master.load_catalog()
        by_resource = defaultdict(list)
        for a in self.store.allocations():
            by_resource[a.resource_id].append(a)
        for rid, allocations in by_resource.items():
            resource = catalog.resources[rid]
            window = (min(a.span[0] for a in allocations), max(a.span[1] for a in allocations))
            occ = Occupancy(resource, window, catalog.capacity(resource, resource.site_id, window))
            for i, a in enumerate(allocations):
                assert occ.on_duty(a.span, a.lane + 1), f"{rid} lane {a.lane} is off duty at {a.start}"
                for b in allocations[i + 1:]:
                    assert not (a.lane == b.lane and overlaps(a.span, b.span)), f"{rid} double-booked"
                at_once = sum(1 for b in allocations if b.span[0] <= a.span[0] < b.span[1])
                assert at_once <= occ.min_capacity((a.span[0], a.span[0] + 1))

    @invariant()
    def stock_is_reserved_only_for_live_bookings_and_never_beyond_on_hand(self) -> None:
        live = {BookingStatus.HELD, BookingStatus.BOOKED, BookingStatus.ARRIVED}
        wanted = sum(i.quantity for b in self.store.committed.bookings.values() if b.status in live
                     for i in b.items)
        level = self.store.stock("site_main", "scope_kit")
        assert 0 <= level.reserved <= level.on_hand
        assert level.reserved == wanted

    @invariant()
    def an_expired_hold_holds_nothing(self) -> None:
        for b in self.store.committed.bookings.values():
            if b.status is BookingStatus.EXPIRED:
                assert b.id not in self.store.committed.lanes
                assert b.id not in self.store.committed.reservations


Schedulers.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_random_scheduling_never_double_books_overfills_a_pool_or_oversells_stock = Schedulers.TestCase
