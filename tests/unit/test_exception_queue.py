"""The exception queue: transitions, the SLA policy, idempotent escalation and figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.fakes import FakeUnitOfWorkFactory, FixedClock, State

from careflow.domain.access import Actor
from careflow.domain.errors import InvalidRequest, InvalidTransition, NotFound, PermissionDenied
from careflow.domain.exception_sla import DEFAULT_MINUTES, DEFAULT_POLICY, SlaPolicy, figures
from careflow.domain.exceptions_queue import (
    CATEGORIES,
    PRIORITIES,
    ExceptionItem,
    RaiseException,
)
from careflow.services import exception_queue as use
from careflow.services.ports import ExceptionFilter, RaceLost

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ALICE = Actor("alice", frozenset({"scheduler"}))
BOB = Actor("bob", frozenset({"scheduler"}))
MANAGER = Actor("meg", frozenset({"clinic_manager"}))


def _cmd(category: str = "implant_short", priority: str = "high", **kw: object) -> RaiseException:
    return RaiseException(category, kw.pop("team", "procurement"), priority,  # type: ignore[arg-type]
                          "mesh short for the case", booking_id="bk_1", patient_id="p_1", **kw)  # type: ignore[arg-type]


def _item(priority: str = "high", minutes: int = 240) -> ExceptionItem:
    return ExceptionItem.raised("ex_1", _cmd(priority=priority), T0, T0 + timedelta(minutes=minutes))


@pytest.fixture
def fake() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory(State(1, {}, {}))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


# --- transitions ---------------------------------------------------------------------


def test_a_raised_item_is_open_and_records_that_it_was_raised() -> None:
    item = _item()
    assert (item.status, item.assignee, item.escalation_level) == ("open", None, 0)
    assert [e.name for e in item.events] == ["ExceptionRaised"]


def test_claim_then_resolve_records_each_step() -> None:
    item = _item()
    item.claim("alice")
    item.comment("alice", "asked procurement", T0)
    item.resolve("fixed_upstream", "stock arrived", "alice", T0 + timedelta(minutes=5))
    assert item.status == "resolved" and item.resolution is not None
    assert item.resolution.outcome == "fixed_upstream"
    assert [e.name for e in item.events] == [
        "ExceptionRaised", "ExceptionClaimed", "ExceptionCommented", "ExceptionResolved"]
    assert item.version == 4


def test_refuses_to_claim_an_item_someone_already_claimed() -> None:
    item = _item()
    item.claim("alice")
    with pytest.raises(InvalidTransition):
        item.claim("bob")


@pytest.mark.parametrize("step", ["claim", "reassign", "resolve"])
def test_a_resolved_item_refuses_every_lifecycle_step(step: str) -> None:
    item = _item()
    item.resolve("duplicate", "", "alice", T0)
    with pytest.raises(InvalidTransition):
        {"claim": lambda: item.claim("bob"), "reassign": lambda: item.reassign("bob", "meg"),
         "resolve": lambda: item.resolve("duplicate", "", "bob", T0)}[step]()


def test_reassign_hands_the_item_over_and_refuses_the_same_assignee() -> None:
    item = _item()
    item.claim("alice")
    item.reassign("bob", "meg")
    assert (item.status, item.assignee) == ("claimed", "bob")
    with pytest.raises(InvalidTransition):
        item.reassign("bob", "meg")


def test_refuses_an_unknown_outcome_category_or_priority_naming_the_field() -> None:
    with pytest.raises(InvalidRequest) as exc:
        _item().resolve("shrug", "", "alice", T0)
    assert exc.value.field == "outcome"
    for kw, name in (({"category": "nope"}, "category"), ({"priority": "meh"}, "priority")):
        with pytest.raises(InvalidRequest) as exc:
            _cmd(**kw).validate()  # type: ignore[arg-type]
        assert exc.value.field == name


def test_refuses_an_item_about_nothing() -> None:
    with pytest.raises(InvalidRequest) as exc:
        RaiseException("no_option", "scheduling", "normal", "x").validate()
    assert exc.value.field == "booking_id"


# --- the SLA policy ---------------------------------------------------------------------


def test_the_default_policy_covers_every_category_and_priority_and_urgent_is_soonest() -> None:
    for category in CATEGORIES:
        minutes = [DEFAULT_MINUTES[(category, p)] for p in PRIORITIES]
        assert minutes == sorted(minutes), category
    assert DEFAULT_POLICY.due_at("recoordination", "urgent", T0) == T0 + timedelta(minutes=30)


def test_escalation_levels_come_at_half_the_sla_at_due_and_at_one_and_a_half() -> None:
    item = _item(minutes=100)
    minutes = (0, 49, 50, 99, 100, 149, 150, 999)
    level = [DEFAULT_POLICY.level_at(item, T0 + timedelta(minutes=m)) for m in minutes]
    assert level == [0, 0, 1, 1, 2, 2, 3, 3]


def test_a_policy_can_set_its_own_minutes_and_steps() -> None:
    policy = SlaPolicy({("no_option", "low"): 10}, steps=(1.0,))
    assert policy.due_at("no_option", "low", T0) == T0 + timedelta(minutes=10)
    with pytest.raises(InvalidRequest):
        policy.due_at("no_option", "high", T0)


# --- the use cases on fakes ---------------------------------------------------------------


def test_raise_sets_the_due_time_from_the_policy_audits_and_publishes(
        fake: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    item = use.raise_exception(_cmd(), ALICE, fake, clock)
    assert item.sla_due_at == T0 + timedelta(minutes=DEFAULT_MINUTES[("implant_short", "high")])
    assert [e.name for e in fake.events] == ["ExceptionRaised"]
    assert [a.action for a in fake.audit] == ["exception.raise"]


def test_escalation_is_idempotent_and_moves_one_level_per_threshold(
        fake: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    item = use.raise_exception(_cmd(priority="high"), ALICE, fake, clock)  # 240 minutes
    assert use.escalate_due(fake, clock) == 0
    clock.now = T0 + timedelta(minutes=125)
    assert use.escalate_due(fake, clock) == 1
    assert use.escalate_due(fake, clock) == 0  # again at the same time: nothing moves
    clock.now = T0 + timedelta(days=1)
    assert use.escalate_due(fake, clock) == 1
    assert use.get(item.id, ALICE, fake).escalation_level == 3
    assert [e.name for e in fake.events].count("ExceptionEscalated") == 2


def test_a_resolved_item_never_escalates(fake: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    item = use.raise_exception(_cmd(), ALICE, fake, clock)
    use.resolve(item.id, "duplicate", "", ALICE, fake, clock)
    clock.now = T0 + timedelta(days=10)
    assert use.escalate_due(fake, clock) == 0


def test_only_the_assignee_or_a_manager_may_resolve_a_claimed_item(
        fake: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    item = use.raise_exception(_cmd(), ALICE, fake, clock)
    use.claim(item.id, ALICE, fake)
    with pytest.raises(PermissionDenied):
        use.resolve(item.id, "duplicate", "", BOB, fake, clock)
    with pytest.raises(PermissionDenied):
        use.reassign(item.id, "bob", BOB, fake)
    done = use.resolve(item.id, "cancelled", "patient declined", MANAGER, fake, clock)
    assert done.resolution is not None and done.resolution.by == "meg"


def test_a_lost_claim_race_is_a_conflict(fake: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    item = use.raise_exception(_cmd(), ALICE, fake, clock)

    def bob_claims_first(state: State) -> None:
        state.exceptions[item.id].claim("bob")

    fake.concurrent_writer = bob_claims_first
    with pytest.raises(RaceLost):
        use.claim(item.id, ALICE, fake)
    assert fake.committed.exceptions[item.id].assignee == "bob"


def test_list_orders_by_priority_then_due_and_filters(fake: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    low = use.raise_exception(_cmd(priority="low"), ALICE, fake, clock)
    urgent = use.raise_exception(_cmd(priority="urgent", team="scheduling"), ALICE, fake, clock)
    high = use.raise_exception(_cmd(priority="high"), ALICE, fake, clock)
    items, total = use.list_items(ExceptionFilter(), ALICE, fake)
    assert [i.id for i in items] == [urgent.id, high.id, low.id] and total == 3
    items, _ = use.list_items(ExceptionFilter(owner_team="scheduling"), ALICE, fake)
    assert [i.id for i in items] == [urgent.id]
    clock.now = T0 + timedelta(hours=2)
    items, _ = use.list_items(ExceptionFilter(breached_at=clock()), ALICE, fake)
    assert [i.id for i in items] == [urgent.id]


def test_an_unknown_item_is_not_found(fake: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(NotFound):
        use.claim("ex_missing", ALICE, fake)


# --- figures ------------------------------------------------------------------------------


def test_figures_count_open_items_ages_breaches_and_the_share_within_sla(
        fake: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    a = use.raise_exception(_cmd(priority="urgent"), ALICE, fake, clock)  # due in 60 min
    b = use.raise_exception(_cmd(priority="low", team="scheduling"), ALICE, fake, clock)
    c = use.raise_exception(_cmd(priority="high"), ALICE, fake, clock)
    use.resolve(c.id, "fixed_upstream", "", ALICE, fake, clock)  # within SLA
    clock.now = T0 + timedelta(minutes=90)
    out = use.queue_figures(fake, clock)
    assert out["open"] == 2 and out["breached"] == 1
    assert out["open_by_team"] == {"procurement": 1, "scheduling": 1}
    assert out["open_by_category"] == {"implant_short": 2}
    assert out["age_minutes_p50"] == 90 and out["age_minutes_p90"] == 90
    assert (out["resolved"], out["resolved_within_sla"], out["share_within_sla"]) == (1, 1, 1.0)
    use.resolve(a.id, "rescheduled", "", ALICE, fake, clock)  # late
    assert use.queue_figures(fake, clock)["share_within_sla"] == 0.5
    assert b.id in {i.id for i in use.list_items(ExceptionFilter(status="open"), ALICE, fake)[0]}


def test_figures_of_an_empty_queue_have_no_percentiles() -> None:
    out = figures([], [], T0)
    assert out["open"] == 0 and out["age_minutes_p50"] is None and out["share_within_sla"] is None
