"""Settings, read from the environment (``CAREFLOW_*``) by a function, never at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]

DEFAULT_DB = "sqlite:///var/careflow.db"


class Settings(BaseSettings):
    """careflow's configuration. ``CAREFLOW_DATABASE_URL`` picks SQLite or PostgreSQL."""

    model_config = SettingsConfigDict(env_prefix="CAREFLOW_", extra="ignore")

    database_url: str = DEFAULT_DB
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    hold_minutes: int = Field(default=10, ge=1, le=1440)
    sweep_seconds: float = Field(default=5.0, gt=0, le=3600)
    environment: str = "development"
    # Until tokens arrive (the security issue), requests act as this local actor.
    local_actor: str = "local-scheduler"
    local_roles: str = "admin"
    log_level: str = "info"

    @field_validator("environment")
    @classmethod
    def _known_environment(cls, value: str) -> str:
        if value not in ("development", "test", "production"):
            raise ValueError("environment must be development, test or production")
        return value

    def sqlite_path(self) -> Path | None:
        """The SQLite file, when the database is SQLite."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix):])
        return None


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (tests, CLI flags)."""
    return Settings(**overrides)  # type: ignore[arg-type]
