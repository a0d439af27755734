"""The tiny demo: small, fast, valid, deterministic; and the scenario switch."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from careflow import demo
from careflow.demo.files import parse, to_dict
from careflow.demo.tiny import TINY_SERVICES
from careflow.demo.verify import problems
from careflow.domain.errors import InvalidRequest
from careflow.domain.health_system import HealthSystem
from careflow.domain.resources import ResourceKind

ANCHOR = date(2026, 6, 1)
NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def tiny() -> HealthSystem:
    return demo.build("tiny", seed=7, anchor=ANCHOR)


def test_tiny_has_one_hospital_one_clinic_and_one_of_each_kind(tiny: HealthSystem) -> None:
    assert sorted(s.kind.value for s in tiny.sites) == ["clinic", "hospital"]
    ors = [r for r in tiny.resources if r.kind is ResourceKind.ROOM and r.room.room_type == "operating"]
    assert len(ors) == 2
    assert {r.kind for r in tiny.resources} == set(ResourceKind)
    assert 3 <= sum(r.kind is ResourceKind.CLINICIAN for r in tiny.resources) <= 5
    assert {s.id for s in tiny.services} == TINY_SERVICES
    assert len(tiny.patients) == 20
    assert 20 <= len(tiny.bookings) <= 40


def test_every_tiny_booking_passes_the_domain_checks(tiny: HealthSystem) -> None:
    now = datetime.combine(ANCHOR - timedelta(days=2), time(0), tzinfo=NY)
    assert problems(tiny, now) == []


def test_tiny_is_deterministic_and_seed_sensitive(tiny: HealthSystem) -> None:
    again = demo.build("tiny", seed=7, anchor=ANCHOR)
    assert to_dict(again) == to_dict(tiny)
    other = demo.build("tiny", seed=8, anchor=ANCHOR)
    assert to_dict(other) != to_dict(tiny)


def test_tiny_keeps_the_well_known_ids(tiny: HealthSystem) -> None:
    ids = {p.id for p in tiny.patients}
    assert {"pat-00001", "pat-00002", "pat-00012"} <= ids
    assert {"site-h1", "site-c1"} == {s.id for s in tiny.sites}
    first = next(p for p in tiny.patients if p.id == "pat-00001")
    assert first.language == "en"
    assert not first.needs_interpreter
    assert any(a.patient_id == "pat-00001" and a.service_id == "svc-tka" and a.status.value == "approved"
               for a in tiny.authorizations)
    spanish = next(p for p in tiny.patients if p.id == "pat-00002")
    assert spanish.interpreter_language == "es"
    assert all(b.patient_id not in {"pat-00001", "pat-00002"} for b in tiny.bookings)


def test_tiny_round_trips_through_the_file_form(tiny: HealthSystem) -> None:
    data = json.loads(json.dumps(to_dict(tiny)))
    assert to_dict(parse(data)) == to_dict(tiny)


def test_build_refuses_an_unknown_scenario() -> None:
    with pytest.raises(InvalidRequest) as caught:
        demo.build("galactic")
    assert caught.value.field == "scenario"


def test_the_default_anchor_is_today_in_new_york() -> None:
    system = demo.build("tiny")
    today = datetime.now(NY).date()
    first = min(b.start for b in system.bookings).astimezone(NY).date()
    assert today <= first <= today + timedelta(days=10)
