"""Alembic migrations of the careflow schema; ``migrate(url)`` applies them."""

from careflow.adapters.db.migrator import migrate

__all__ = ["migrate"]
