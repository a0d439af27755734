"""Idempotency-Key records in the ``idempotency_record`` table.

The first request with a key claims it by inserting the row: the primary key (scope, key)
decides the winner across threads and processes. The winner stores its response when it
is done, or deletes the row (a 5xx, a crash caught in time) so the client may retry.
Everyone else reads the row: a stored response to replay, or "still running".

A row that expired (24 hours in the API) or whose request was abandoned (claimed by a
process that died mid-request, long ago) is taken over by a conditional update, so even then only one wins.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from careflow.adapters.db.engine import WRITE_OPTION
from careflow.adapters.db.tables import idempotency_record as record

__all__ = ["Claim", "SqlIdempotencyStore", "StoredResponse"]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """Someone else's record for the key: its fingerprint and, once done, its response."""

    fingerprint: str
    created_at: datetime
    response: StoredResponse | None


def _response(row: Any) -> StoredResponse | None:
    if row.status_code is None:
        return None
    doc = row.headers or {}
    text = row.body or ""
    body = base64.b64decode(text) if doc.get("base64") else text.encode()
    return StoredResponse(int(row.status_code), [(str(k), str(v)) for k, v in doc.get("headers", [])],
                          body)


class SqlIdempotencyStore:
    """The records on one engine; every method is one short transaction of its own."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _writing(self) -> Connection:
        return self._engine.connect().execution_options(**{WRITE_OPTION: True})

    def claim(self, scope: str, key: str, fingerprint: str, now: datetime, expired_before: datetime,
              abandoned_before: datetime) -> Claim | None:
        """None when this caller now owns the key; else the record that holds it. A record
        created before ``expired_before``, or still running since before ``abandoned_before``,
        is taken over."""
        for _ in range(3):  # the row may vanish (released) between the insert and the read
            try:
                with self._writing() as conn, conn.begin():
                    conn.execute(insert(record).values(actor=scope, key=key, fingerprint=fingerprint,
                                                       created_at=now))
                return None
            except IntegrityError:
                pass
            found = self.get(scope, key)
            if found is None:
                continue
            stale = found.created_at < (abandoned_before if found.response is None else expired_before)
            if stale and self._take_over(scope, key, found, fingerprint, now):
                return None
            return found
        raise RuntimeError("idempotency key claim kept racing")  # not expected in practice

    def _take_over(self, scope: str, key: str, stale: Claim, fingerprint: str, now: datetime) -> bool:
        with self._writing() as conn, conn.begin():
            done = conn.execute(
                update(record).where(record.c.actor == scope, record.c.key == key,
                                     record.c.created_at == stale.created_at)
                .values(fingerprint=fingerprint, created_at=now, status_code=None, headers=None,
                        body=None, completed_at=None))
        return done.rowcount == 1

    def get(self, scope: str, key: str) -> Claim | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(record).where(record.c.actor == scope, record.c.key == key)).first()
        if row is None:
            return None
        return Claim(row.fingerprint, row.created_at, _response(row))

    def complete(self, scope: str, key: str, response: StoredResponse, now: datetime) -> None:
        """Store the owner's response for replay."""
        try:
            text, encoded = response.body.decode(), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(response.body).decode(), True
        doc = {"headers": [list(h) for h in response.headers], "base64": encoded}
        with self._writing() as conn, conn.begin():
            conn.execute(update(record).where(record.c.actor == scope, record.c.key == key)
                         .values(status_code=response.status, headers=doc, body=text, completed_at=now))

    def release(self, scope: str, key: str) -> None:
        """Forget the key (its request failed with a 5xx or never finished): a retry runs anew."""
        with self._writing() as conn, conn.begin():
            conn.execute(delete(record).where(record.c.actor == scope, record.c.key == key))

    def sweep(self, before: datetime) -> int:
        """Delete records created before ``before``; returns how many."""
        with self._writing() as conn, conn.begin():
            return int(conn.execute(delete(record).where(record.c.created_at < before)).rowcount)
