"""Engines for the two supported databases.

SQLite (the embedded default) runs in WAL mode with a long busy timeout, and
SQLAlchemy, not pysqlite, emits ``BEGIN``: a unit of work opened for writing marks its
connection with the ``careflow_write`` execution option and gets ``BEGIN IMMEDIATE``,
so writers queue for the write lock up front instead of failing half way (the recipe in
SQLAlchemy's SQLite dialect docs, "Using SQLAlchemy to emit BEGIN"). Readers get a plain
deferred ``BEGIN`` and read a consistent snapshot alongside the writer.

PostgreSQL uses psycopg 3 at READ COMMITTED, with a pool sized for a few dozen
concurrent requests; there the exclusion constraints are the guard against races.

Both hide bound parameters from SQLAlchemy's error messages and logs: they can hold
patient data, and errors end up in logs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = ["WRITE_OPTION", "is_postgres", "is_sqlite", "make_engine", "normalize_url"]

WRITE_OPTION = "careflow_write"
POOL_SIZE = 20
MAX_OVERFLOW = 20
SQLITE_BUSY_MS = 30_000


def normalize_url(url: str) -> str:
    """Point plain ``postgresql://`` (and ``postgres://``) URLs at the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def is_sqlite(engine: Engine | Connection) -> bool:
    """True for a SQLite engine or connection."""
    return engine.dialect.name == "sqlite"


def is_postgres(engine: Engine | Connection) -> bool:
    """True for a PostgreSQL engine or connection."""
    return engine.dialect.name == "postgresql"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine configured for careflow's transaction discipline on SQLite or PostgreSQL."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo)
    return create_engine(url, echo=echo, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW,
                         pool_pre_ping=True, pool_timeout=60, isolation_level="READ COMMITTED",
                         hide_parameters=True)


def _sqlite_engine(url: str, echo: bool) -> Engine:
    memory = ":memory:" in url or url in ("sqlite://", "sqlite+pysqlite://")
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if not memory:
        kwargs.update(pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW, pool_timeout=60)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000,
                                              "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from pysqlite; ``_on_begin`` emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
