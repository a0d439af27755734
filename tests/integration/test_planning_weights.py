"""A site's planning weights on SQLite and PostgreSQL: defaults until set, changed with a reason,
versioned and audited, refused without writing; and a plan made from the database's cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select
from tests.admission_plan_world import MONDAY, SITE, case, ward_system

from careflow.adapters.db import SqlUnitOfWorkFactory, load_health_system
from careflow.adapters.db.case_store import cases_of
from careflow.adapters.db.site_setting_store import site_settings_of
from careflow.adapters.db.tables import audit_log
from careflow.domain.access import Actor
from careflow.domain.bookings import Urgency
from careflow.domain.errors import Conflict, InvalidRequest, NotFound
from careflow.planning.admission_plan_weights import PlanningWeights
from careflow.services import admission_plan as use
from careflow.services.catalogs import CatalogCache

NOW = datetime(2030, 1, 6, 12, tzinfo=UTC)
ADMIN = Actor("admin-1", frozenset({"admin"}))


def _deps(engine: Engine) -> use.AdmissionPlanDeps:
    load_health_system(engine, ward_system(), replace=False)
    return use.AdmissionPlanDeps(SqlUnitOfWorkFactory(engine), CatalogCache(), lambda: NOW, site_settings_of,
                                 cases_of)


def test_a_site_plans_with_the_defaults_until_its_weights_are_changed(engine: Engine) -> None:
    deps = _deps(engine)
    found = use.site_weights(deps, ADMIN, SITE)
    assert (found.version, found.weights, found.setting) == (0, PlanningWeights(), None)
    use.change_weights(deps, ADMIN, SITE, {"PatientDelay": 25}, "delays hurt more here")
    changed = use.change_weights(deps, ADMIN, SITE, {"OpenOperatingTheater": 5}, "ORs are cheap", 1)
    again = use.site_weights(deps, ADMIN, SITE)
    assert again.version == changed.version == 2
    assert again.weights == PlanningWeights(patient_delay=25, open_operating_theater=5)
    assert again.setting is not None and again.setting.updated_by == "admin-1"
    assert again.setting.reason == "ORs are cheap"
    with engine.connect() as conn:
        details = conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "site_setting.change")
                               .order_by(audit_log.c.id)).scalars().all()
    assert [d["after"]["PatientDelay"] for d in details] == [25, 25]
    before, after = details[1]["before"], details[1]["after"]
    assert (before["OpenOperatingTheater"], after["OpenOperatingTheater"]) == (30, 5)


def test_replacing_the_weights_puts_the_names_not_given_back_to_their_defaults(engine: Engine) -> None:
    deps = _deps(engine)
    use.change_weights(deps, ADMIN, SITE, {"PatientDelay": 25, "SurgeonTransfer": 1}, "first")
    use.change_weights(deps, ADMIN, SITE, {"SurgeonTransfer": 3}, "second", replace=True)
    assert use.site_weights(deps, ADMIN, SITE).weights == PlanningWeights(surgeon_transfer=3)


@pytest.mark.parametrize(("changes", "kwargs", "error"), [
    ({"Delay": 1}, {}, InvalidRequest),
    ({"PatientDelay": -5}, {}, InvalidRequest),
    ({"PatientDelay": "5"}, {}, InvalidRequest),
    ({"PatientDelay": 5}, {"reason": " "}, InvalidRequest),
    ({"PatientDelay": 5}, {"expected_version": 7}, Conflict),
    ({"PatientDelay": 5}, {"site_id": "nowhere"}, NotFound),
])
def test_a_refused_change_writes_nothing(engine: Engine, changes: dict[str, Any], kwargs: dict[str, Any],
                                         error: type[Exception]) -> None:
    deps = _deps(engine)
    use.change_weights(deps, ADMIN, SITE, {"PatientDelay": 12}, "baseline")
    args: dict[str, Any] = {"site_id": SITE, "reason": "try", **kwargs}
    with pytest.raises(error):
        use.change_weights(deps, ADMIN, args["site_id"], changes, args["reason"],
                           args.get("expected_version"))
    kept = use.site_weights(deps, ADMIN, SITE)
    assert (kept.version, kept.weights.patient_delay) == (1, 12)


def test_a_plan_from_the_databases_cases_and_bed_bookings_has_no_hard_violation(engine: Engine) -> None:
    deps = _deps(engine)
    factory = SqlUnitOfWorkFactory(engine)
    with factory(write=True) as uow:
        store = cases_of(uow)
        for c in (case(1, "svc-tka", patient=0, urgency=Urgency.URGENT), case(2, "svc-lap", patient=1),
                  case(3, "svc-lap", patient=3, surgeon=2, first=2)):
            store.add(c)
        uow.commit()
    use.change_weights(deps, ADMIN, SITE, {"PatientDelay": 50}, "operate early")
    plan = use.propose_admission_plan(deps, ADMIN, use.PlanRequest(SITE, MONDAY, 5, time_limit=1.0))
    assert plan.hard_violations == 0
    assert sorted(c.case_id for c in plan.planned) == ["c1", "c2", "c3"]
    assert plan.weights.patient_delay == 50
    c2 = next(c for c in plan.planned if c.case_id == "c2")
    if c2.ward_room_id == "bed-4W-07..bed-4W-08" and c2.day.toordinal() - MONDAY.toordinal() < 3:
        assert c2.bed_id == "bed-4W-08"  # bed 7 holds the inpatient until Wednesday
