"""Master data through the bulk loader, the SQL master store and the master-data writers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from careflow.adapters.db import (
    SqlMasterWriter,
    SqlUnitOfWorkFactory,
    load_health_system,
    wipe,
)
from careflow.adapters.db.tables import allocation, booking, stock_reservation
from careflow.domain.bookings import Allocation, Booking, BookingStatus, ItemReservation
from careflow.domain.errors import InvalidRequest
from careflow.domain.health_system import HealthSystem
from careflow.domain.ids import BookingId, PatientId, ResourceId, ServiceId, SiteId
from careflow.domain.stock import StockLevel
from careflow.domain.timespans import to_ts

NOW = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
Tiny = Callable[..., HealthSystem]


def test_every_master_data_type_round_trips(engine: Engine, tiny: Tiny) -> None:
    hs = tiny(patients=4)
    version = load_health_system(engine, hs, replace=False)
    with SqlUnitOfWorkFactory(engine)() as u:
        catalog = u.master.load_catalog()
        assert catalog.version == u.master.version() == version
        assert dict(catalog.sites) == {s.id: s for s in hs.sites}
        assert dict(catalog.resources) == {r.id: r for r in hs.resources}
        assert dict(catalog.services) == {s.id: s for s in hs.services}
        assert [u.master.patient(p.id) for p in hs.patients] == hs.patients
        assert u.master.patient("nobody") is None
        assert u.master.authorizations(PatientId("p1")) == hs.authorizations
        assert u.master.authorizations(PatientId("p0")) == []
        assert u.master.stock(SiteId("s1"), ["mesh", "gauze"]) == {"mesh": hs.stock[0]}
        assert u.master.stock(SiteId("s1"), []) == {}


def test_patients_page_and_search_by_id_mrn_or_name(engine: Engine, tiny: Tiny) -> None:
    load_health_system(engine, tiny(patients=12), replace=False)
    with SqlUnitOfWorkFactory(engine)() as u:
        page, total = u.master.patients(0, 5)
        assert ([p.id for p in page], total) == (["p0", "p1", "p10", "p11", "p2"], 12)
        page, total = u.master.patients(10, 5)
        assert ([p.id for p in page], total) == (["p8", "p9"], 12)
        assert [p.id for p in u.master.patients(0, 5, "mrn0011")[0]] == ["p11"]
        assert u.master.patients(0, 5, "PATIENT 1")[1] == 3
        assert u.master.patients(0, 5, "100%")[1] == 0


def test_catalog_writes_move_the_version_and_patient_writes_do_not(engine: Engine, tiny: Tiny) -> None:
    hs = tiny()
    first = load_health_system(engine, hs, replace=False)
    uow = SqlUnitOfWorkFactory(engine)
    with uow(write=True) as u:
        writer = SqlMasterWriter(u.connection)
        renamed = replace(hs.resources[0], name="OR 1 (renovated)")
        assert writer.upsert_resource(renamed) == first + 1
        assert writer.upsert_service(replace(hs.services[0], duration_minutes=75)) == first + 2
        writer.upsert_patient(replace(hs.patients[0], language="fr"))
        writer.upsert_authorization(replace(hs.authorizations[0], reference="REF-2"))
        writer.upsert_stock(replace(hs.stock[0], on_hand=9))
        u.commit()
    with uow() as u:
        assert u.master.version() == first + 2
        catalog = u.master.load_catalog()
        assert catalog.resources[renamed.id].name == "OR 1 (renovated)"
        assert catalog.services[ServiceId("svc_lap")].duration_minutes == 75
        assert u.master.patient("p0").language == "fr"  # type: ignore[union-attr]
        assert u.master.authorizations(PatientId("p1"))[0].reference == "REF-2"
        assert u.master.stock(SiteId("s1"), ["mesh"])["mesh"].on_hand == 9


def test_writers_refuse_dangling_references_and_code_clashes(engine: Engine, tiny: Tiny) -> None:
    hs = tiny()
    load_health_system(engine, hs, replace=False)
    uow = SqlUnitOfWorkFactory(engine)
    with uow(write=True) as u, pytest.raises(InvalidRequest, match="site 'nowhere'"):
        SqlMasterWriter(u.connection).upsert_resource(replace(hs.resources[0], site_id=SiteId("nowhere")))
    with uow(write=True) as u, pytest.raises(InvalidRequest, match="patient 'ghost'"):
        SqlMasterWriter(u.connection).upsert_authorization(
            replace(hs.authorizations[0], patient_id=PatientId("ghost")))
    with uow(write=True) as u, pytest.raises(InvalidRequest, match="code 'LAPCHOLE'"):
        SqlMasterWriter(u.connection).upsert_service(replace(hs.services[1], code="LAPCHOLE"))


def _bookings() -> list[Booking]:
    start = NOW + timedelta(days=1, hours=7)
    out = []
    for i, status in enumerate([BookingStatus.BOOKED, BookingStatus.HELD, BookingStatus.FULFILLED,
                                BookingStatus.CANCELLED]):
        s = start + timedelta(hours=2 * i)
        out.append(Booking(BookingId(f"b{i}"), PatientId(f"p{i}"), ServiceId("svc_lap"), SiteId("s1"),
                           s, s + timedelta(hours=1), status,
                           (Allocation(ResourceId("or1"), "room", s, s + timedelta(hours=1)),),
                           (ItemReservation("mesh", 1),), created_at=NOW,
                           expires_at=NOW + timedelta(minutes=5) if i == 1 else None))
    return out


def test_loader_brings_bookings_and_computes_reserved_stock(engine: Engine, tiny: Tiny) -> None:
    hs = tiny(patients=4)
    hs.bookings = _bookings()
    hs.stock = [replace(hs.stock[0], reserved=4)]  # ignored: reservations come from bookings
    load_health_system(engine, hs, replace=False)
    with SqlUnitOfWorkFactory(engine)() as u:
        assert u.master.stock(SiteId("s1"), ["mesh"])["mesh"].reserved == 2  # booked + held
        busy = u.bookings.busy([ResourceId("or1")], (to_ts(NOW), to_ts(NOW + timedelta(days=2))))
        assert sorted(b.booking_id for b in busy[ResourceId("or1")]) == ["b0", "b1", "b2"]
        got = u.bookings.get("b1")
        assert got is not None
        assert (got.status, got.expires_at, got.items) == (
            BookingStatus.HELD, NOW + timedelta(minutes=5), (ItemReservation("mesh", 1),))


def test_loader_refuses_more_reserved_than_on_hand(engine: Engine, tiny: Tiny) -> None:
    hs = tiny(patients=4, mesh_on_hand=1)
    hs.bookings = _bookings()
    with pytest.raises(InvalidRequest, match="more than the 1 on hand"):
        load_health_system(engine, hs, replace=False)


def test_replace_wipes_first_and_the_version_only_grows(engine: Engine, tiny: Tiny) -> None:
    hs = tiny(patients=4)
    hs.bookings = _bookings()
    first = load_health_system(engine, hs, replace=False)
    with pytest.raises(InvalidRequest, match="clashes"):
        load_health_system(engine, hs, replace=False)
    second = load_health_system(engine, hs, replace=True)
    assert second > first
    wipe(engine)
    with engine.connect() as conn:
        for table in (booking, allocation, stock_reservation):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
    with SqlUnitOfWorkFactory(engine)() as u:
        assert u.master.version() > second
        assert not u.master.load_catalog().resources


def test_stock_on_hand_cannot_drop_below_what_bookings_reserved(engine: Engine, tiny: Tiny) -> None:
    hs = tiny(patients=4)
    hs.bookings = _bookings()
    load_health_system(engine, hs, replace=False)
    with SqlUnitOfWorkFactory(engine)(write=True) as u, pytest.raises(InvalidRequest):
        SqlMasterWriter(u.connection).upsert_stock(StockLevel(SiteId("s1"), "mesh", "Mesh", 1))
