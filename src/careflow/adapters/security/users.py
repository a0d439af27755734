"""Local users: usernames with argon2id password hashes, roles and an optional site limit.

The embedded default keeps users in the ``user_account`` table; at scale an identity
provider owns them and careflow only verifies its tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from careflow.adapters.db.engine import WRITE_OPTION
from careflow.adapters.db.tables import user_account
from careflow.domain.access import ROLES
from careflow.domain.errors import Conflict, InvalidRequest

__all__ = ["LocalUser", "add_user", "authenticate", "get_user", "list_users", "set_active"]

_HASHER = PasswordHasher()
# A hash of a random password: verifying unknown usernames against it takes as long as
# verifying a real user's, so timing does not reveal which usernames exist.
_DUMMY_HASH = _HASHER.hash("careflow-no-such-user")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
MIN_PASSWORD = 8


@dataclass(frozen=True, slots=True)
class LocalUser:
    id: str
    roles: frozenset[str]
    sites: frozenset[str] | None
    active: bool


def _user(row: Any) -> LocalUser:
    return LocalUser(row.id, frozenset(row.roles), None if row.sites is None else frozenset(row.sites),
                     bool(row.active))


def _validate(username: str, password: str, roles: list[str]) -> None:
    if not USERNAME.match(username):
        raise InvalidRequest("a username is 1-128 letters, digits or . _ @ - and starts with a "
                             "letter or digit", "username")
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"a password needs at least {MIN_PASSWORD} characters", "password")
    if not roles:
        raise InvalidRequest("a user needs at least one role", "roles")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise InvalidRequest(f"unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}", "roles")


def add_user(engine: Engine, username: str, password: str, roles: list[str], *,
             sites: list[str] | None = None, replace: bool = False) -> LocalUser:
    """Create a local user (or, with ``replace``, reset its password, roles and sites)."""
    _validate(username, password, roles)
    role_list = sorted(set(roles))
    values = {"id": username, "password_hash": _HASHER.hash(password), "roles": role_list,
              "sites": None if sites is None else sorted(set(sites)), "active": True,
              "created_at": datetime.now(UTC)}
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            exists = conn.execute(select(user_account.c.id).where(user_account.c.id == username)).first()
            if exists and not replace:
                raise Conflict(f"user {username!r} already exists")
            try:
                if exists:
                    conn.execute(update(user_account).where(user_account.c.id == username).values(
                        {k: v for k, v in values.items() if k not in ("id", "created_at")}))
                else:
                    conn.execute(user_account.insert().values(values))
            except IntegrityError as exc:
                raise Conflict(f"user {username!r} already exists") from exc
    return LocalUser(username, frozenset(role_list), None if sites is None else frozenset(sites), True)


def get_user(engine: Engine, username: str) -> LocalUser | None:
    with engine.connect() as conn:
        row = conn.execute(select(user_account).where(user_account.c.id == username)).first()
    return None if row is None else _user(row)


def list_users(engine: Engine) -> list[LocalUser]:
    with engine.connect() as conn:
        rows = conn.execute(select(user_account).order_by(user_account.c.id)).all()
    return [_user(r) for r in rows]


def set_active(engine: Engine, username: str, active: bool) -> bool:
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            query = update(user_account).where(user_account.c.id == username).values(active=active)
            done = conn.execute(query)
    return bool(done.rowcount)


def authenticate(engine: Engine, username: str, password: str) -> LocalUser | None:
    """The active user with this password, or None (in constant-ish time either way)."""
    with engine.connect() as conn:
        row = conn.execute(select(user_account).where(user_account.c.id == username)).first()
    stored = row.password_hash if row is not None else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or not row.active:
        return None
    return _user(row)
