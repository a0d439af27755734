"""Settings, read from the environment (``CAREFLOW_*``) by a function, never at import."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings", "parse_team_emails"]

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
    # The CLI acts as this local actor (the API always needs a bearer token).
    local_actor: str = "local-admin"
    local_roles: str = "admin"
    log_level: str = "info"

    # Authentication (api/security.py). The embedded default signs HS256 tokens with a
    # secret generated at first run and kept beside the database (``auth_secret_file``
    # overrides where). At scale, set ``jwks_url`` (and issuer and audience) to verify
    # RS256 tokens from an identity provider instead.
    auth_secret_file: str = ""
    jwt_issuer: str = "careflow"
    jwt_audience: str = "careflow"
    jwks_url: str = ""
    jwt_roles_claim: str = "roles"
    token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    break_glass_max_minutes: int = Field(default=60, ge=1, le=24 * 60)
    demo_password: str = ""

    # Abuse limits (api/rate_limit.py, services/booking.py): requests per client per
    # minute, with Redis (``redis_url``) sharing the counters between API processes.
    rate_limit_per_minute: int = Field(default=6000, ge=1)
    rate_limit_token_per_minute: int = Field(default=30, ge=1)
    redis_url: str = ""
    max_open_holds_per_patient: int = Field(default=3, ge=1, le=100)

    # Events (services/dispatch.py): the outbox is dispatched to handlers in process, or,
    # with ``nats_url``, relayed to NATS JetStream and consumed through a durable consumer.
    nats_url: str = ""
    event_max_attempts: int = Field(default=5, ge=1, le=100)
    event_backoff_seconds: float = Field(default=2.0, gt=0, le=3600)

    # Re-coordination (services/recoordination.py): a fix is applied without a person when
    # it keeps the site and the local day and the patient hears of it this many hours ahead.
    recoordination_auto_apply: bool = True
    recoordination_min_notice_hours: float = Field(default=24.0, ge=0, le=24 * 30)
    # The waitlist (services/waitlist.py): how long a freed slot is held for the patient offered it.
    waitlist_offer_minutes: int = Field(default=120, ge=5, le=7 * 24 * 60)
    # Predictions (services/predictions.py): the operator's no-show model, a careflow.noshow/1
    # file (`careflow noshow train`). Unset: overbooking advice and no-show risk use each
    # site's observed no-show rate and say so; set but unloadable: logged, named in every
    # answer, and no overbooking is advised. No model ships as a default.
    noshow_model: str = ""

    # Durable workflows (services/workflows, DBOS Transact): the system database is a SQLite
    # file beside careflow's (``<name>.dbos.sqlite``) or, on PostgreSQL, the schema
    # ``workflow_schema`` of careflow's database; ``workflow_database_url`` overrides both.
    # Every process that runs workflows (``careflow serve``, ``careflow worker``) needs its
    # own stable ``executor_id``: a restarted process resumes the workflows it left pending.
    workflows: bool = True
    workflow_database_url: str = ""
    workflow_schema: str = Field(default="dbos", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    executor_id: str = Field(default="local", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    workflow_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    case_hold_minutes: int = Field(default=1440, ge=10, le=1440)
    # Referral to appointment (services/workflows/referral.py): these acuities are booked at
    # once, others are offered the best ``referral_choices`` sites and have
    # ``referral_choice_hours`` to choose before the referral center takes over.
    referral_auto_book: str = Field(default="urgent,emergent", pattern=r"^(routine|urgent|emergent|,)*$")
    referral_choices: int = Field(default=3, ge=1, le=10)
    referral_choice_hours: float = Field(default=72.0, gt=0, le=24 * 30)
    # Imaging readiness (services/workflows/imaging.py): reminders this many hours before the
    # slot ("72,24"), and the cut-off at which a booking still not ready is given up.
    readiness_reminder_hours: str = Field(default="72,24", pattern=r"^\d+(\.\d+)?(,\d+(\.\d+)?)*$")
    readiness_cutoff_hours: float = Field(default=24.0, ge=0, le=24 * 30)

    # Notifications (adapters/notify): the channels, in order. ``file`` appends JSON lines to
    # ``notify_file`` (default: notifications.jsonl beside the SQLite file, else under var/);
    # ``smtp`` mails patients (their e-mail contact) and teams (``notify_team_emails``,
    # "team=address,..."); ``webhook`` POSTs JSON signed with HMAC-SHA256 of the body.
    notify_channels: str = "file"
    notify_file: str = ""
    notify_team_emails: str = ""
    notify_smtp_host: str = ""
    notify_smtp_port: int = Field(default=25, ge=1, le=65535)
    notify_smtp_from: str = Field(default="", validate_default=True)
    notify_smtp_starttls: bool = False
    notify_smtp_username: str = ""
    notify_smtp_password: str = ""
    notify_smtp_timeout: float = Field(default=10.0, gt=0, le=300)
    notify_webhook_url: str = ""
    notify_webhook_secret: str = Field(default="", validate_default=True)
    notify_webhook_timeout: float = Field(default=10.0, gt=0, le=300)

    @field_validator("environment")
    @classmethod
    def _known_environment(cls, value: str) -> str:
        if value not in ("development", "test", "production"):
            raise ValueError("environment must be development, test or production")
        return value

    @field_validator("notify_channels")
    @classmethod
    def _known_channels(cls, value: str) -> str:
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = sorted(set(names) - {"file", "smtp", "webhook"})
        if not names or unknown:
            raise ValueError("notify_channels must list file, smtp and/or webhook, comma-separated")
        if len(set(names)) != len(names):
            raise ValueError("notify_channels lists a channel twice")
        return ",".join(names)

    def referral_auto_book_urgencies(self) -> list[str]:
        return [u for u in self.referral_auto_book.split(",") if u]

    @field_validator("readiness_reminder_hours")
    @classmethod
    def _positive_hours(cls, value: str) -> str:
        if any(float(h) <= 0 for h in value.split(",")):
            raise ValueError("readiness_reminder_hours must list positive hours, e.g. 72,24")
        return value

    def readiness_reminder_offsets(self) -> list[float]:
        """The reminder offsets in hours (``readiness_reminder_hours``)."""
        return [float(h) for h in self.readiness_reminder_hours.split(",")]

    def workflow_system_url(self) -> str:
        """Where DBOS keeps workflow state (see ``workflows`` above)."""
        if self.workflow_database_url:
            return self.workflow_database_url
        path = self.sqlite_path()
        if path is None:
            return self.database_url
        if path.name in ("", ":memory:"):
            return "sqlite:///var/careflow.dbos.sqlite"
        return f"sqlite:///{path.with_name(path.stem + '.dbos.sqlite')}"

    @field_validator("notify_team_emails")
    @classmethod
    def _team_emails_parse(cls, value: str) -> str:
        parse_team_emails(value)
        return value

    @field_validator("notify_smtp_from")
    @classmethod
    def _smtp_configured(cls, value: str, info: ValidationInfo) -> str:
        if "smtp" in info.data.get("notify_channels", "").split(",") and not (
                info.data.get("notify_smtp_host") and value):
            raise ValueError("the smtp channel needs notify_smtp_host and notify_smtp_from")
        return value

    @field_validator("notify_webhook_secret")
    @classmethod
    def _webhook_configured(cls, value: str, info: ValidationInfo) -> str:
        if "webhook" not in info.data.get("notify_channels", "").split(","):
            return value
        url = urlsplit(info.data.get("notify_webhook_url", ""))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("the webhook channel needs notify_webhook_url, an http(s) URL")
        if len(value) < 16:
            raise ValueError("the webhook channel needs notify_webhook_secret of at least 16 characters")
        return value

    def team_emails(self) -> dict[str, tuple[str, ...]]:
        """``notify_team_emails`` as team → addresses."""
        return parse_team_emails(self.notify_team_emails)

    def sqlite_path(self) -> Path | None:
        """The SQLite file, when the database is SQLite."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix):])
        return None


def parse_team_emails(text: str) -> dict[str, tuple[str, ...]]:
    """``team=address,...`` into team → addresses (a team may be listed more than once)."""
    teams: dict[str, list[str]] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        team, sep, address = (p.strip() for p in entry.partition("="))
        if not sep or not team or "@" not in address or any(c.isspace() for c in address):
            raise ValueError("notify_team_emails entries must read team=name@domain")
        teams.setdefault(team, []).append(address)
    return {team: tuple(addresses) for team, addresses in teams.items()}


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (tests, CLI flags)."""
    return Settings(**overrides)  # type: ignore[arg-type]
