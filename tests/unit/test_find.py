"""`find`: ranked options where every required resource is free at once, explained when none."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tests.factories import (
    CASE_DAY,
    MAIN,
    NEW_YORK,
    NOW,
    authorization,
    bed,
    block,
    clinician,
    consult,
    knee_replacement,
    local,
    option,
    patient,
    room,
    site,
    stock,
)
from tests.fakes import FakeUnitOfWorkFactory, FixedClock

from careflow.domain.access import Actor
from careflow.domain.bookings import Urgency
from careflow.domain.commands import BookOption, CheckOption
from careflow.domain.errors import InvalidRequest
from careflow.domain.ids import PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.options import FindRequest, Option
from careflow.domain.patients import AuthorizationStatus, Preferences
from careflow.domain.sites import Position, SiteKind
from careflow.domain.violations import ViolationCode
from careflow.services.booking import BookingDeps, book_option, check
from careflow.services.calendar_cache import CalendarCache
from careflow.services.catalogs import CatalogCache
from careflow.services.finding import find

SCHEDULER = Actor("u_scheduler", frozenset({"scheduler"}))
DAY_START = local(CASE_DAY, "07:00")


def request(service: str, patient_id: str = "pt_1", *, days: int = 1, start: datetime = DAY_START,
            **kwargs: object) -> FindRequest:
    return FindRequest(ServiceId(service), PatientId(patient_id), start, start + timedelta(days=days),
                       **kwargs)  # type: ignore[arg-type]


def book(deps: BookingDeps, opt: Option) -> None:
    book_option(BookOption(opt, SCHEDULER), deps)


def roles(opt: Option) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a in opt.allocations:
        out.setdefault(a.role, []).append(a.resource_id)
    return out


def test_every_option_passes_the_full_check(deps: BookingDeps) -> None:
    for service in ("svc_knee", "svc_consult", "svc_infusion"):
        for who in ("pt_1", "pt_2", "pt_3"):
            for opt in find(request(service, who, days=3), deps).options:
                assert check(CheckOption(opt, SCHEDULER), deps) == list(opt.warnings)


def test_the_earliest_feasible_start_ranks_first(deps: BookingDeps) -> None:
    options = find(request("svc_consult"), deps).options
    assert options[0].start == DAY_START
    assert [o.score for o in options] == sorted(o.score for o in options)


def test_a_knee_replacement_takes_its_whole_team_room_c_arm_and_bed(deps: BookingDeps) -> None:
    best = find(request("svc_knee"), deps).options[0]
    assert roles(best) == {"room": ["or_1"], "surgeon": ["dr_bone"], "anesthesiologist": ["dr_sleep"],
                           "preop_nurse": ["preop_nurses"], "c_arm": ["c_arm_1"], "bed": ["bed_1"]}
    by_role = {a.role: a for a in best.allocations}
    assert by_role["room"].start == best.start - timedelta(minutes=30), "setup before the case"
    assert by_role["room"].end == best.end + timedelta(minutes=30), "turnover after the case"
    assert by_role["c_arm"].end == best.end + timedelta(minutes=30), "sterilization after use"
    assert by_role["bed"].start == best.end
    assert by_role["bed"].end == best.end + timedelta(hours=24)
    assert [(i.sku, i.quantity) for i in best.items] == [("knee_implant", 1)]


def test_buffers_keep_the_next_case_clear_of_turnover_and_setup(deps: BookingDeps,
                                                                store: FakeUnitOfWorkFactory) -> None:
    store.put(room("or_2"), bed("bed_2"))
    book(deps, option(knee_replacement(), local(CASE_DAY, "08:00")))
    store.put(patient("pt_2"), authorization("pt_2"))
    nxt = find(request("svc_knee", "pt_2"), deps).options[0]
    # or_1 is busy 07:30-10:30 with turnover; the surgeon until 10:00; a new case in or_1 needs
    # its own 30 minutes of setup after 10:30; in or_2 it waits for the surgeon (10:00) and the
    # C-arm's 30 minutes of sterilization (10:30).
    assert nxt.start >= local(CASE_DAY, "10:30")


def test_a_pending_authorization_is_explained_at_once(deps: BookingDeps,
                                                      store: FakeUnitOfWorkFactory) -> None:
    store.put(authorization("pt_1", status=AuthorizationStatus.PENDING))
    result = find(request("svc_knee", days=14), deps)
    assert result.options == []
    assert [v.code for v in result.blockers] == [ViolationCode.AUTHORIZATION_PENDING]


def test_prep_that_cannot_be_done_in_time_moves_the_window(deps: BookingDeps,
                                                           store: FakeUnitOfWorkFactory) -> None:
    store.put(patient("pt_1", completed_prep={}))  # clearance is due 7 days before the case
    options = find(request("svc_knee", start=NOW, days=10), deps).options
    assert options
    assert all(o.start.date() >= (NOW + timedelta(days=7)).date() for o in options)


def test_a_patient_needing_an_interpreter_gets_one_in_every_option(deps: BookingDeps) -> None:
    options = find(request("svc_consult", "pt_3"), deps).options
    assert options
    assert all(roles(o).get("interpreter") == ["interpreters"] for o in options)


def test_no_privileged_surgeon_is_named_as_the_blocker(deps: BookingDeps,
                                                       store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_bone", privileges=frozenset()))
    result = find(request("svc_knee"), deps)
    assert result.options == []
    assert ViolationCode.CLINICIAN_NOT_PRIVILEGED in {v.code for v in result.blockers}


def test_implants_out_of_stock_are_named_as_the_blocker(deps: BookingDeps,
                                                        store: FakeUnitOfWorkFactory) -> None:
    store.put(stock(on_hand=0))
    result = find(request("svc_knee", site_ids=frozenset({SiteId(MAIN)})), deps)
    assert result.options == []
    assert [v.code for v in result.blockers] == [ViolationCode.STOCK_INSUFFICIENT]


def test_the_usual_clinician_is_preferred(deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(clinician("dr_knee"), room("exam_2", room_type="exam", capabilities=frozenset()))
    store.put(replace(patient("pt_1"), usual_clinicians=frozenset({ResourceId("dr_knee")})))
    best = find(request("svc_consult"), deps).options[0]
    assert roles(best)["clinician"] == ["dr_knee"]
    assert any(r.factor == "continuity" and r.points == 0 for r in best.reasons)


def two_clinics(store: FakeUnitOfWorkFactory) -> None:
    """A second site with its own exam room and surgeon, 60 km away."""
    far = site("site_far", kind=SiteKind.HOSPITAL, position=Position(41.3, -73.95))
    store.put(far, room("exam_far", room_type="exam", capabilities=frozenset(), site_id="site_far"),
              clinician("dr_far", site_id="site_far"))


def test_travel_sends_the_patient_to_the_nearer_site(deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    two_clinics(store)
    store.put(replace(patient("pt_1"), home=Position(41.29, -73.95)))
    best = find(request("svc_consult"), deps).options[0]
    assert best.site_id == "site_far"
    assert any(r.factor == "travel" for r in best.reasons)


def test_urgency_trades_a_preferred_site_for_an_earlier_start(deps: BookingDeps,
                                                              store: FakeUnitOfWorkFactory) -> None:
    two_clinics(store)
    # The far site works tomorrow only; the patient prefers it.
    store.put(clinician("dr_far", site_id="site_far",
                        blocks=(block(weekdays=frozenset({3})),)))  # Thursday 4 June
    prefers = Preferences(sites=frozenset({SiteId("site_far")}))
    store.put(replace(patient("pt_1"), preferences=prefers))
    routine = find(request("svc_consult", days=2), deps).options[0]
    urgent = find(request("svc_consult", days=2, urgency=Urgency.URGENT), deps).options[0]
    assert routine.site_id == "site_far"
    assert urgent.site_id == MAIN


def test_utilization_prefers_packing_against_an_existing_case(deps: BookingDeps) -> None:
    book(deps, option(consult(), local(CASE_DAY, "10:00")))
    options = find(request("svc_consult", "pt_2"), deps).options
    flush = [o for o in options if o.start in (local(CASE_DAY, "09:30"), local(CASE_DAY, "10:30"))]
    assert flush, "the slots right before and after the existing visit are proposed"
    for o in flush:
        assert any(r.factor == "utilization" and r.detail.startswith("flush") for r in o.reasons)


def test_the_read_model_sees_a_booking_made_after_it_loaded(store: FakeUnitOfWorkFactory,
                                                            clock: FixedClock) -> None:
    deps = BookingDeps(uow=store, catalogs=CatalogCache(), clock=clock, calendar=CalendarCache())
    first = find(request("svc_consult"), deps).options[0]
    book(deps, first)
    again = find(request("svc_consult", "pt_2"), deps).options
    assert again
    assert all(o.start != first.start for o in again)


def test_options_keep_to_the_local_slot_grid_on_a_daylight_saving_day() -> None:
    from tests.factories import small_system

    spring = datetime(2026, 3, 8, 0, 0, tzinfo=ZoneInfo(NEW_YORK))
    store = FakeUnitOfWorkFactory.of(small_system())
    deps = BookingDeps(uow=store, catalogs=CatalogCache(), clock=FixedClock(spring - timedelta(days=1)))
    options = find(request("svc_consult", start=spring), deps).options
    local_starts = [o.start.astimezone(ZoneInfo(NEW_YORK)) for o in options]
    assert local_starts[0].hour == 7
    assert local_starts[0].minute == 0
    assert all(t.minute % 15 == 0 for t in local_starts)


@pytest.mark.parametrize("seed", range(5))
def test_after_random_bookings_every_option_still_passes_the_check(seed: int, deps: BookingDeps,
                                                                   store: FakeUnitOfWorkFactory) -> None:
    rng = random.Random(seed)
    store.put(room("exam_2", room_type="exam", capabilities=frozenset()), clinician("dr_two"))
    for i in range(12):
        start = DAY_START + timedelta(minutes=15 * rng.randrange(0, 44))
        who = rng.choice(["pt_1", "pt_2"])
        try:
            book(deps, option(consult(), start, patient_id=who,
                              room=rng.choice(["exam_1", "exam_2"]),
                              clinician=rng.choice(["dr_bone", "dr_two"])))
        except Exception:  # refused: the slot or the patient was taken; that is the point
            continue
        assert i >= 0
    for who in ("pt_1", "pt_2", "pt_3"):
        for opt in find(request("svc_consult", who, limit=30), deps).options:
            assert check(CheckOption(opt, SCHEDULER), deps) == list(opt.warnings)


def test_a_reschedule_search_counts_the_moving_booking_as_free(deps: BookingDeps) -> None:
    booked = book_option(BookOption(option(consult(), local(CASE_DAY, "09:00")), SCHEDULER), deps)
    window = request("svc_consult", start=local(CASE_DAY, "08:45"), limit=3)
    blocked = find(window, deps).options
    assert all(o.start >= local(CASE_DAY, "09:30") for o in blocked), "the patient is busy 09:00-09:30"
    moving = find(replace(window, reschedule_of=booked.id), deps).options
    assert moving[0].start == local(CASE_DAY, "08:45"), "a shift by 15 minutes overlaps the old slot"


def test_a_reschedule_search_refuses_another_patients_booking(deps: BookingDeps) -> None:
    other = book_option(BookOption(option(consult(), local(CASE_DAY, "09:00"), patient_id="pt_2"),
                                   SCHEDULER), deps)
    with pytest.raises(InvalidRequest) as refused:
        find(replace(request("svc_consult"), reschedule_of=other.id), deps)
    assert refused.value.field == "reschedule_of"
