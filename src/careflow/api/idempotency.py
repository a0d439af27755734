"""Idempotency-Key on every POST: a retried request has the effect of the first, once.

An ASGI middleware, so every POST route has it, including routes added later. A POST
with an ``Idempotency-Key`` header (1 to 255 printable ASCII characters) is fingerprinted
(method, path, query and body, SHA-256) and claims the key in ``idempotency_record``:

- first with the key: it runs; its response is stored (unless it is a 5xx, or the request
  fails or is cancelled: then the key is released so the client can retry);
- the same key and fingerprint again: the stored response is replayed exactly (status,
  body, headers such as Location and ETag) with ``Idempotent-Replayed: true``;
- the same key with another fingerprint: 422 naming the ``Idempotency-Key`` header;
- while the first is still running: the request waits (polling, up to ``wait_seconds``)
  for its response and replays it, else 409 "in progress".

Keys are scoped per caller: ``callers.caller_scope``, the verified token's subject (so a
client that renews its token between retries keeps its keys), or for an unverifiable
token a hash of the ``Authorization`` header; never the unverified claims. Records
expire after 24 hours and are swept hourly. ``POST /api/v1/token`` is exempt: its responses are credentials,
which are never stored.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.to_thread
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from careflow.adapters.db.idempotency_store import Claim, SqlIdempotencyStore, StoredResponse
from careflow.api.callers import caller_scope
from careflow.api.refusals import refusal

__all__ = ["HEADER", "Idempotency"]

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
ABANDONED = timedelta(minutes=10)  # a claim still running after this was left by a dead process
SWEEP_EVERY = 3600.0
EXEMPT = frozenset({"/api/v1/token"})
# Not replayed: recomputed per response, or never to be stored.
UNSTORED = frozenset({"content-length", "date", "server", "set-cookie", "x-request-id"})


def _valid_key(key: str) -> bool:
    return 1 <= len(key) <= 255 and all(" " <= c <= "~" for c in key)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Idempotency:
    """The middleware; the record store comes from the app's engine at the first request
    (an app without a database, as in some tests, passes requests through)."""

    def __init__(self, app: ASGIApp, wait_seconds: float = 10.0, poll_seconds: float = 0.05,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self.app = app
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.clock = clock
        self._store: SqlIdempotencyStore | None = None
        self._swept = -SWEEP_EVERY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        key = Headers(scope=scope).get(HEADER.lower())
        store = self._store_of(scope)
        if key is None or store is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if not _valid_key(key):
            await refusal(request, 422, "Invalid request", f"{HEADER}: must be 1 to 255 printable "
                          "ASCII characters", "invalid-request", field=HEADER)(scope, receive, send)
            return
        try:
            body = await request.body()
        except HTTPException as exc:  # BodyLimit refuses an oversized streamed body
            await refusal(request, exc.status_code, "Content too large", str(exc.detail),
                          "content-too-large", field="body")(scope, receive, send)
            return
        await self._sweep(store)
        digest = hashlib.sha256(b"\0".join([b"POST", scope["path"].encode(), scope["query_string"],
                                            body])).hexdigest()
        await self._serve(store, caller_scope(scope), key, digest, body, scope, receive, send)

    def _store_of(self, scope: Scope) -> SqlIdempotencyStore | None:
        if self._store is None:
            careflow = getattr(scope["app"].state, "careflow", None)
            engine = getattr(careflow, "engine", None)
            if engine is None:
                return None
            self._store = SqlIdempotencyStore(engine)
        return self._store

    async def _sweep(self, store: SqlIdempotencyStore) -> None:
        if time.monotonic() - self._swept >= SWEEP_EVERY:
            self._swept = time.monotonic()
            await anyio.to_thread.run_sync(store.sweep, self.clock() - TTL)

    async def _serve(self, store: SqlIdempotencyStore, who: str, key: str, digest: str, body: bytes,
                     scope: Scope, receive: Receive, send: Send) -> None:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            now = self.clock()
            found: Claim | None = await anyio.to_thread.run_sync(
                store.claim, who, key, digest, now, now - TTL, now - ABANDONED)
            if found is None:
                await self._run_first(store, who, key, body, scope, receive, send)
                return
            request = Request(scope)
            if found.fingerprint != digest:
                await refusal(request, 422, "Invalid request", f"{HEADER}: this key was used with "
                              "another request (method, path or body); use a new key for a new "
                              "request", "idempotency-key-reused", field=HEADER)(scope, receive, send)
                return
            if found.response is not None:
                await _replay(found.response, send)
                return
            if time.monotonic() >= deadline:
                await refusal(request, 409, "Conflict", "a request with this key is in progress; "
                              "retry later", "idempotency-key-in-progress", field=HEADER,
                              headers={"Retry-After": "1"})(scope, receive, send)
                return
            await anyio.sleep(self.poll_seconds)

    async def _run_first(self, store: SqlIdempotencyStore, who: str, key: str, body: bytes,
                         scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request that owns the key, passing its response through as it streams,
        and store it (or release the key on a 5xx, an error or a cancellation)."""
        start: dict[str, Any] = {}
        chunks: list[bytes] = []
        replayed = False

        async def first_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        stored = False
        try:
            await self.app(scope, first_receive, capture)
            status = int(start.get("status", 500))
            if status < 500:
                headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])
                           if k.decode("latin-1").lower() not in UNSTORED]
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(store.complete, who, key,
                                                   StoredResponse(status, headers, b"".join(chunks)),
                                                   self.clock())
                stored = True
        finally:
            if not stored:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(store.release, who, key)


async def _replay(response: StoredResponse, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers += [(b"content-length", str(len(response.body)).encode()), (b"idempotent-replayed", b"true")]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
