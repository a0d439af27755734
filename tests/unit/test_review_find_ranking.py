"""find ranks by the documented score, soft-violation points included.

An option that needs an override pays 30 points. find may only stop looking once no slot
it has not checked could still score better than the options it keeps; otherwise a clean
option a day later (10 points of waiting) loses to two that need an override.
"""

from __future__ import annotations

from datetime import timedelta

from tests.factories import CASE_DAY, block, chair, infusion, local, site, stock
from tests.fakes import FakeUnitOfWorkFactory

from careflow.domain.ids import PatientId, ServiceId
from careflow.domain.options import FindRequest
from careflow.domain.preference_cards import ItemRequirement
from careflow.domain.sites import SiteKind
from careflow.domain.violations import ViolationCode
from careflow.services.booking import BookingDeps
from careflow.services.finding import find

IRON = infusion(items=(ItemRequirement("iron", 1),))
DAY_START = local(CASE_DAY, "07:00")  # Wednesday


def test_a_clean_option_a_day_later_outranks_two_that_need_an_override(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    thursdays = (block(weekdays=frozenset({3})),)
    store.put(IRON, stock("iron", on_hand=3, threshold=3),  # every option here needs an override
              site("site_z", kind=SiteKind.CLINIC),
              chair("chair_z", site_id="site_z", blocks=thursdays), stock("iron", site_id="site_z"))

    found = find(FindRequest(ServiceId(IRON.id), PatientId("pt_1"), DAY_START,
                             DAY_START + timedelta(days=3), limit=2), deps)

    best = found.options[0]
    assert (best.site_id, best.start) == ("site_z", local("2026-06-04", "07:00"))
    assert [(o.site_id, o.warnings) for o in found.options] == [("site_z", ())] * 2


def test_an_option_needing_an_override_still_ranks_when_it_is_the_best(
        deps: BookingDeps, store: FakeUnitOfWorkFactory) -> None:
    store.put(IRON, stock("iron", on_hand=3, threshold=3))

    found = find(FindRequest(ServiceId(IRON.id), PatientId("pt_1"), DAY_START,
                             DAY_START + timedelta(days=1), limit=2), deps)

    assert [o.start for o in found.options] == [DAY_START, local(CASE_DAY, "18:00")]
    for o in found.options:
        assert [v.code for v in o.warnings] == [ViolationCode.STOCK_BELOW_THRESHOLD]
        assert any(r.factor == "soft" and r.points == 30 for r in o.reasons)
