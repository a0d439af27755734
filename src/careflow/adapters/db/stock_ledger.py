"""Stock reservations against ``stock_item``, each change one atomic statement.

Reserving is a conditional update (``on_hand - reserved >= quantity``), so two
concurrent bookings can never both take the last unit: the loser's update matches no
row and it gets ``RaceLost`` naming ``STOCK_INSUFFICIENT``. Releasing and consuming
flip the reservation's state first (``... WHERE state = 'reserved' RETURNING``), so a
reservation is given back at most once even when two writers race to do it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, bindparam, update
from sqlalchemy.engine import Connection

from careflow.adapters.db.races import stock_race
from careflow.adapters.db.tables import stock_item, stock_reservation
from careflow.domain.bookings import ItemReservation

__all__ = ["consume", "release", "reserve"]

_KEY = and_(stock_item.c.site_id == bindparam("s"), stock_item.c.sku == bindparam("k"))


def reserve(conn: Connection, booking_id: str, site_id: str, items: Sequence[ItemReservation],
            revision: int) -> None:
    """Reserve every item at the site for the booking, or raise ``RaceLost``."""
    if not items:
        return
    take = (update(stock_item).where(_KEY, stock_item.c.on_hand - stock_item.c.reserved
                                     >= bindparam("q"))
            .values(reserved=stock_item.c.reserved + bindparam("q")))
    for item in items:
        if conn.execute(take, {"s": site_id, "k": item.sku, "q": item.quantity}).rowcount != 1:
            raise stock_race(site_id, item.sku, item.quantity)
    conn.execute(stock_reservation.insert(), [
        {"booking_id": booking_id, "site_id": site_id, "sku": i.sku, "quantity": i.quantity,
         "state": "reserved", "revision": revision} for i in items])


def _settle(conn: Connection, booking_id: str, state: str) -> list[dict[str, object]]:
    flip = (update(stock_reservation)
            .where(stock_reservation.c.booking_id == booking_id,
                   stock_reservation.c.state == "reserved")
            .values(state=state)
            .returning(stock_reservation.c.site_id, stock_reservation.c.sku,
                       stock_reservation.c.quantity))
    return [{"s": r.site_id, "k": r.sku, "q": r.quantity} for r in conn.execute(flip)]


def release(conn: Connection, booking_id: str) -> None:
    """Give back the booking's outstanding reservations (reserved goes down)."""
    params = _settle(conn, booking_id, "released")
    if params:
        conn.execute(update(stock_item).where(_KEY)
                     .values(reserved=stock_item.c.reserved - bindparam("q")), params)


def consume(conn: Connection, booking_id: str) -> None:
    """Turn the booking's outstanding reservations into use (on hand and reserved go down)."""
    params = _settle(conn, booking_id, "consumed")
    if params:
        conn.execute(update(stock_item).where(_KEY)
                     .values(on_hand=stock_item.c.on_hand - bindparam("q"),
                             reserved=stock_item.c.reserved - bindparam("q")), params)
