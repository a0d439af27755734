"""The Idempotency-Key record store on SQLite and PostgreSQL: the first claim wins, a
response is stored and read back byte for byte, a released key can be claimed again,
expired and abandoned records are taken over, and the sweep forgets old records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from careflow.adapters.db.idempotency_store import SqlIdempotencyStore, StoredResponse

T0 = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
ABANDON = timedelta(minutes=10)


def claim(store: SqlIdempotencyStore, fingerprint: str, now: datetime = T0) -> object:
    return store.claim("auth:a", "k", fingerprint, now, now - DAY, now - ABANDON)


def test_the_first_claim_wins_and_its_response_is_read_back(engine: Engine) -> None:
    store = SqlIdempotencyStore(engine)
    assert claim(store, "f1") is None
    running = store.claim("auth:a", "k", "f1", T0, T0 - DAY, T0 - ABANDON)
    assert running is not None and running.response is None
    assert store.claim("auth:b", "k", "f1", T0, T0 - DAY, T0 - ABANDON) is None  # another caller

    body = "{\"id\":\"bk_1\",\"note\":\"é\"}".encode()
    store.complete("auth:a", "k", StoredResponse(201, [("location", "/x"), ("etag", '"1"')], body), T0)
    done = store.get("auth:a", "k")
    assert done is not None and done.fingerprint == "f1"
    assert done.response == StoredResponse(201, [("location", "/x"), ("etag", '"1"')], body)

    store.complete("auth:b", "k", StoredResponse(200, [], b"\xff\x00"), T0)  # not UTF-8
    assert store.get("auth:b", "k").response.body == b"\xff\x00"  # type: ignore[union-attr]


def test_a_released_key_can_be_claimed_again(engine: Engine) -> None:
    store = SqlIdempotencyStore(engine)
    assert claim(store, "f1") is None
    store.release("auth:a", "k")
    assert claim(store, "f2") is None
    assert store.get("auth:a", "k").fingerprint == "f2"  # type: ignore[union-attr]


def test_expired_and_abandoned_records_are_taken_over_and_swept(engine: Engine) -> None:
    store = SqlIdempotencyStore(engine)
    assert claim(store, "f1") is None
    assert claim(store, "f1", T0 + ABANDON / 2) is not None  # still running, not yet abandoned
    assert claim(store, "f2", T0 + ABANDON * 2) is None  # its process died: taken over

    store.complete("auth:a", "k", StoredResponse(201, [], b"{}"), T0 + ABANDON * 2)
    assert claim(store, "f3", T0 + DAY) is not None  # a stored response lasts a day
    assert claim(store, "f3", T0 + DAY + ABANDON * 3) is None  # then the key is free again

    assert store.sweep(T0 + DAY * 3) == 1
    assert store.get("auth:a", "k") is None
