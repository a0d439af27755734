"""Per-site settings on SQLite and PostgreSQL: versioned, audited, refused without a reason,
for an unknown site or at a stale version, and nothing written when refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from careflow.adapters.db import SqlUnitOfWorkFactory, load_health_system
from careflow.adapters.db.site_setting_store import site_settings_of
from careflow.adapters.db.tables import audit_log
from careflow.domain.errors import Conflict, InvalidRequest, NotFound
from careflow.domain.health_system import HealthSystem
from careflow.services.site_settings import change_setting, read_setting

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
Tiny = Callable[..., HealthSystem]


def _change(factory: SqlUnitOfWorkFactory, value: dict[str, int], reason: str = "OR committee decision",
            site: str = "s1", expected: int | None = None) -> object:
    return change_setting(factory, site_settings_of, lambda: NOW, site_id=site, name="planning.weights",
                          value=value, actor="admin", reason=reason, expected_version=expected)


def test_a_site_setting_is_versioned_and_every_change_audited(engine: Engine, tiny: Tiny) -> None:
    load_health_system(engine, tiny(), replace=False)
    factory = SqlUnitOfWorkFactory(engine)
    with factory() as uow:
        assert read_setting(uow, site_settings_of, "s1", "planning.weights") is None
    _change(factory, {"delay": 5})
    second = _change(factory, {"delay": 7}, expected=1)
    with factory() as uow:
        now = read_setting(uow, site_settings_of, "s1", "planning.weights")
        assert now == second
        assert now is not None and now.version == 2 and now.value == {"delay": 7}
        assert now.updated_by == "admin" and now.reason == "OR committee decision"
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.action, audit_log.c.entity_id)
                            .where(audit_log.c.action == "site_setting.change")).all()
    assert [tuple(r) for r in rows] == [("site_setting.change", "s1/planning.weights")] * 2


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"reason": "  "}, InvalidRequest),
    ({"site": "nowhere"}, NotFound),
    ({"expected": 3}, Conflict),
])
def test_a_refused_change_writes_nothing(engine: Engine, tiny: Tiny, kwargs: dict[str, object],
                                          error: type[Exception]) -> None:
    load_health_system(engine, tiny(), replace=False)
    factory = SqlUnitOfWorkFactory(engine)
    _change(factory, {"delay": 5})
    with pytest.raises(error):
        _change(factory, {"delay": 9}, **kwargs)  # type: ignore[arg-type]
    with factory() as uow:
        kept = read_setting(uow, site_settings_of, "s1", "planning.weights")
        assert kept is not None and kept.version == 1 and kept.value == {"delay": 5}
