"""PostgreSQL privileges for the application role: everything it needs, and on the audit
log only SELECT and INSERT, so that not even a compromised application can rewrite it."""

from __future__ import annotations

import re

from sqlalchemy import Engine, text

from careflow.adapters.db.engine import WRITE_OPTION
from careflow.domain.errors import InvalidRequest

__all__ = ["grant_application_role"]

ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_APPEND_ONLY = ("audit_log",)
_READ_ONLY = ("audit_head", "alembic_version")


def grant_application_role(engine: Engine, role: str) -> None:
    """Grant ``role`` use of the schema; the audit log append-only, its head read-only."""
    if not ROLE.match(role):
        raise InvalidRequest("a role name is lowercase letters, digits and _", "role")
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
            if not exists:
                raise InvalidRequest(f"no PostgreSQL role {role!r}", "role")
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            tables = conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars().all()
            conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
            for table in tables:
                conn.execute(text(f'REVOKE ALL ON "{schema}"."{table}" FROM "{role}"'))
                if table in _APPEND_ONLY:
                    privileges = "SELECT, INSERT"
                elif table in _READ_ONLY:
                    privileges = "SELECT"
                else:
                    privileges = "SELECT, INSERT, UPDATE, DELETE"
                conn.execute(text(f'GRANT {privileges} ON "{schema}"."{table}" TO "{role}"'))
            conn.execute(text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"'))
