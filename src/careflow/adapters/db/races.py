"""Turns the database's guards firing into ``RaceLost``.

Expected races surface as integrity errors: an exclusion constraint on PostgreSQL
(SQLSTATE 23P01) or the equivalent trigger on SQLite, and the stock check
(``reserved <= on_hand``). The use cases retry a ``RaceLost`` after re-reading, so the
caller sees success or the violations that explain the refusal, never a driver error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError

from careflow.domain.violations import Violation, ViolationCode, hard
from careflow.services.ports import RaceLost

__all__ = ["race_lost_from", "stock_race", "translating_races"]

ALLOCATION_GUARD = "ex_allocation_no_overlap"
PATIENT_GUARD = "ex_booking_patient_overlap"
STOCK_GUARD = "ck_stock_item_reserved_within_on_hand"
# PostgreSQL aborts one of two writers that wait on each other's uncommitted rows (say,
# two cases inserting allocations on the same two resources in opposite orders).
RETRYABLE = {"40P01": "deadlock_detected", "40001": "serialization_failure"}
_KEY = re.compile(r"=\(([^,)]+)")


def _first_key(detail: str | None) -> str:
    """The first key value of a PostgreSQL "Key (a, b)=(x, y) conflicts" detail, or ''."""
    match = _KEY.search(detail or "")
    return match.group(1).strip() if match else ""


def stock_race(site_id: str, sku: str, quantity: int) -> RaceLost:
    """The stock guard: ``quantity`` of ``sku`` is no longer available at the site."""
    subject = f"{site_id}/{sku}"
    return RaceLost(f"{subject}: {quantity} no longer available (reserved concurrently)",
                    [hard(ViolationCode.STOCK_INSUFFICIENT, subject,
                          f"{site_id} no longer has {quantity} {sku} available")])


def race_lost_from(exc: IntegrityError) -> RaceLost | None:
    """The ``RaceLost`` an integrity error stands for, or None when it is a real error."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    detail = getattr(diag, "message_detail", None)
    text = f"{constraint} {orig}"
    if getattr(orig, "sqlstate", None) == "23P01" or ALLOCATION_GUARD in text or PATIENT_GUARD in text:
        if PATIENT_GUARD in text:
            who = _first_key(detail) or "patient"
            return RaceLost("a concurrent booking for the patient overlaps (exclusion)",
                            [hard(ViolationCode.PATIENT_DOUBLE_BOOKED, who,
                                  "the patient got another booking then, concurrently")])
        rid = _first_key(detail) or "resource"
        violations: list[Violation] = [hard(ViolationCode.RESOURCE_BOOKED, rid,
                                             f"{rid} was booked concurrently for an overlapping time")]
        return RaceLost("a concurrent booking took an overlapping resource lane (exclusion)",
                        violations)
    if STOCK_GUARD in text:
        return RaceLost("a concurrent booking reserved the stock first",
                        [hard(ViolationCode.STOCK_INSUFFICIENT, "stock",
                              "the stock was reserved concurrently")])
    return None


@contextmanager
def translating_races() -> Iterator[None]:
    """Re-raise a database error that stands for a lost race as ``RaceLost``."""
    try:
        yield
    except IntegrityError as exc:
        race = race_lost_from(exc)
        if race is None:
            raise
        raise race from exc
    except DBAPIError as exc:
        state = getattr(exc.orig, "sqlstate", None)
        if state not in RETRYABLE:
            raise
        raise RaceLost(f"a concurrent writer conflicted ({RETRYABLE[state]})") from exc
