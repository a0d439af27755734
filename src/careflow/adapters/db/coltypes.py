"""Column types shared by the tables and the migrations.

``UTCDateTime`` keeps the domain's promise that every instant is an aware UTC datetime:
it refuses naive values on the way in and returns aware UTC values on the way out. On
PostgreSQL it is ``timestamptz``; on SQLite it is the dialect's fixed-width text form
of the UTC wall clock, so text comparison is time order and indexes work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["JSONDoc", "UTCDateTime"]


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime; naive values are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored (needs a zone)")
        utc = value.astimezone(UTC)
        # SQLite has no zone type: store the UTC wall clock, read it back as UTC.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json() -> TypeEngine[Any]:
    return JSON().with_variant(JSONB(), "postgresql")


# JSON on SQLite (text), JSONB on PostgreSQL; dicts in the shapes of ``adapters.codec``.
JSONDoc: TypeEngine[Any] = _json()
