"""Management writes on SQLite and PostgreSQL: If-Match is checked and the change written
in one transaction with the row locked, so concurrent updates carrying the same ETag have
exactly one winner; the catalog version moves with every catalog write."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Engine
from tests.concurrency import at_once
from tests.conftest import SITE, tiny_system

from careflow.adapters.db import SqlUnitOfWorkFactory
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.master_admin import admin_store
from careflow.domain.access import Actor
from careflow.domain.sites import Site
from careflow.services import management as use
from careflow.services.catalogs import CatalogCache

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
ADMIN = Actor("u-admin", frozenset({"admin"}))
WRITERS = 8


def deps_on(engine: Engine) -> use.ManagementDeps:
    return use.ManagementDeps(uow=SqlUnitOfWorkFactory(engine, lambda: NOW), admin=admin_store,
                              clock=lambda: NOW)


def test_concurrent_updates_with_one_etag_have_exactly_one_winner(engine: Engine) -> None:
    load_health_system(engine, tiny_system(), replace=True)
    deps = deps_on(engine)
    etag = use.get_item(deps, ADMIN, use.SITE, (SITE,)).etag

    def rename(n: int) -> str:
        def change(site: Site) -> Site:
            time.sleep(0.2)  # hold the row: the others are waiting for it by now
            return replace(site, name=f"writer {n}")

        use.update_item(deps, ADMIN, use.SITE, (SITE,), etag, change)
        return f"won {n}"

    won, errors = at_once([partial(rename, n) for n in range(WRITERS)], timeout=30)
    # stale: the ETag had moved; anything else is a failure of the guarantee
    outcomes = won + ["stale" if isinstance(e, use.PreconditionFailed) else repr(e) for e in errors]
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1, outcomes
    assert outcomes.count("stale") == WRITERS - 1, outcomes
    final = use.get_item(deps, ADMIN, use.SITE, (SITE,)).item
    assert final.name == f"writer {winners[0].split()[1]}"


def test_a_catalog_write_moves_the_version_and_the_cache_reloads(engine: Engine) -> None:
    load_health_system(engine, tiny_system(), replace=True)
    deps, cache = deps_on(engine), CatalogCache()
    uow = SqlUnitOfWorkFactory(engine, lambda: NOW)
    with uow() as u:
        before = cache.get(u)
    found = use.get_item(deps, ADMIN, use.RESOURCE, ("or1",))
    use.update_item(deps, ADMIN, use.RESOURCE, ("or1",), found.etag, lambda r: replace(r, name="OR 1b"))
    with uow() as u:
        after = cache.get(u)
    assert after.version > before.version
    assert after.resource("or1").name == "OR 1b"


def test_a_stale_delete_changes_nothing(engine: Engine) -> None:
    load_health_system(engine, tiny_system(), replace=True)
    deps = deps_on(engine)
    created: Any = use.create_item(deps, ADMIN, use.SITE, replace(
        use.get_item(deps, ADMIN, use.SITE, (SITE,)).item, id="s2"))
    use.update_item(deps, ADMIN, use.SITE, ("s2",), created.etag, lambda s: replace(s, name="moved on"))
    try:
        use.delete_item(deps, ADMIN, use.SITE, ("s2",), created.etag)
        raise AssertionError("a stale delete went through")
    except use.PreconditionFailed:
        pass
    assert use.get_item(deps, ADMIN, use.SITE, ("s2",)).item.name == "moved on"
