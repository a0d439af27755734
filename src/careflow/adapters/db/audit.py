"""The audit trail's hash chain: sealing entries, verifying the chain, reading entries.

Every entry is sealed as canonical JSON (``body``: sorted keys, UTC timestamps) and
chained: ``hash = sha256(prev_hash | seq | body)``, with ``seq`` gapless from 1 and the
first ``prev_hash`` sixty-four zeros. ``audit_head`` keeps the last seq and hash.

``verify`` walks the chain in seq order and names the first broken link:
an edited column (it no longer matches the sealed body), an edited body (its hash no
longer matches), a deleted or reordered entry (seq gap, or a ``prev_hash`` that is not the
previous hash) and a truncated tail (the head is ahead of the last entry).

On PostgreSQL the sealing runs in a trigger (migration 0002) so that concurrent
transactions are chained in commit order by the head's row lock; on SQLite, where one
writer holds the database, ``seal_sqlite`` does it in the writing transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from careflow.adapters.db.tables import audit_head, audit_log

__all__ = ["GENESIS", "ChainReport", "append", "canonical_body", "chain_hash", "seal_sqlite", "verify"]

GENESIS = "0" * 64
_FIELDS = ("at", "actor", "action", "entity_type", "entity_id", "outcome", "reason",
           "rule_version", "detail")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_body(row: dict[str, Any]) -> str:
    """The entry as it is sealed: canonical JSON of its fields (not seq or hashes)."""
    doc = {name: row[name] for name in _FIELDS}
    doc["at"] = _iso(row["at"])
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, seq: int, body: str) -> str:
    return hashlib.sha256(f"{prev_hash}|{seq}|{body}".encode()).hexdigest()


def seal_sqlite(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Chain and insert ``rows`` (SQLite: the caller's transaction holds the write lock)."""
    if not rows:
        return
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one()
    seq, prev = int(head.seq), str(head.hash)
    sealed = []
    for row in rows:
        seq += 1
        body = canonical_body(row)
        digest = chain_hash(prev, seq, body)
        sealed.append({**row, "seq": seq, "body": body, "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(audit_log.insert(), sealed)
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev))


def append(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append audit rows in the caller's transaction, on either database."""
    if conn.dialect.name == "postgresql":
        if rows:
            conn.execute(audit_log.insert(), [{**r, "body": canonical_body(r)} for r in rows])
    else:
        seal_sqlite(conn, rows)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What ``verify`` found: ``ok``, the entries checked and, if broken, where and why."""

    ok: bool
    entries: int
    head_seq: int
    broken_seq: int | None = None
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq,
                "broken_seq": self.broken_seq, "problem": self.problem}


def _as_utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    return value


def _column_mismatch(row: Any, body: str) -> str | None:
    """None when the row's columns are exactly the sealed body; else which one differs."""
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    if canonical_body({**row._mapping, "at": at}) == body:  # the fast path: one C-level dumps
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return "its sealed body is not JSON"
    for name in _FIELDS:
        stored = _as_utc(getattr(row, name))
        if doc.get(name) != stored:
            return f"column {name!r} no longer matches the sealed entry"
    return "its columns no longer match the sealed entry"


def _rows(engine: Engine, batch: int) -> Iterator[Any]:
    cols = [audit_log.c[name] for name in (*_FIELDS, "seq", "body", "prev_hash", "hash")]
    query = select(*cols).order_by(audit_log.c.seq.nulls_last(), audit_log.c.id)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
        yield from result


def verify(engine: Engine, *, progress: Callable[[int], None] | None = None,
           batch: int = 10_000) -> ChainReport:
    """Walk the chain and report the first broken link (``progress(n)`` every batch)."""
    with engine.connect() as conn:
        query = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
        head = conn.execute(query).one_or_none()
    if head is None:
        return ChainReport(False, 0, 0, 1, "the chain's head record is missing")
    head_seq, head_hash = int(head.seq), str(head.hash)
    expected_seq, prev = 1, GENESIS
    count = 0
    for row in _rows(engine, batch):
        count += 1
        if progress is not None and count % batch == 0:
            progress(count)
        if row.seq is None or row.hash is None or row.body is None:
            return ChainReport(False, count, head_seq, expected_seq,
                               "an entry was written outside the chain (no seq or hash)")
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                problem = f"entries {expected_seq}..{row.seq - 1} are missing (deleted)"
            else:
                problem = f"entry {row.seq} appears twice or out of order"
            return ChainReport(False, count, head_seq, expected_seq, problem)
        if row.prev_hash != prev:
            return ChainReport(False, count, head_seq, row.seq,
                               "its prev_hash is not the previous entry's hash (reordered or replaced)")
        if chain_hash(prev, row.seq, row.body) != row.hash:
            return ChainReport(False, count, head_seq, row.seq, "its hash does not match its body (edited)")
        mismatch = _column_mismatch(row, row.body)
        if mismatch:
            return ChainReport(False, count, head_seq, row.seq, mismatch)
        prev = row.hash
        expected_seq += 1
    last = expected_seq - 1
    if last != head_seq:
        if last < head_seq:
            return ChainReport(False, count, head_seq, last + 1,
                               f"entries {last + 1}..{head_seq} are missing (truncated tail)")
        return ChainReport(False, count, head_seq, head_seq + 1, "entries past the chain's head")
    if prev != head_hash:
        return ChainReport(False, count, head_seq, last, "the last entry's hash is not the head's")
    if progress is not None:
        progress(count)
    return ChainReport(True, count, head_seq)
