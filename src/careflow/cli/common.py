"""Shared CLI plumbing: settings from flags, error exits, JSON and table output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from careflow.bootstrap import App, bootstrap
from careflow.config import Settings, load_settings
from careflow.domain.errors import CareflowError, Conflict, InvalidRequest, NotFound

T = TypeVar("T")
console = Console()
errors = Console(stderr=True)

Db = Annotated[str | None, typer.Option("--db", help="database URL (default: CAREFLOW_DATABASE_URL)")]
AsJson = Annotated[bool, typer.Option("--json", help="machine-readable JSON on stdout")]


def settings_for(db: str | None, **extra: Any) -> Settings:
    overrides: dict[str, Any] = dict(extra)
    if db:
        overrides["database_url"] = db
    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        fail(f"invalid setting: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")


def one_line(message: str) -> str:
    """``message`` on one line (library messages sometimes span several)."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


def say_error(message: str) -> None:
    """``error: message`` as one line on stderr; the message is never read as Rich markup."""
    errors.print(f"[bold red]error:[/] {escape(one_line(message))}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit (2: bad input)."""
    say_error(message)
    raise typer.Exit(code)


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


@contextmanager
def database(url: str, storing: str | None = None) -> Iterator[None]:
    """Turn a database that cannot be opened (a malformed URL, an unknown dialect, a server
    that refuses the connection) into one line naming ``--db``, instead of a traceback;
    with ``storing``, a database that refuses what is being stored, naming that instead."""
    try:
        yield
    except (SQLAlchemyError, ImportError, OverflowError) as exc:
        cause = getattr(exc, "orig", None) or exc
        reason = one_line(str(cause)).split(" (Background on this error")[0]
        if storing is not None:
            fail(f"{storing}: the database refused it: {reason}")
        fail(f"--db: cannot open the database {_shown(url)}: {reason}")


@contextmanager
def opened(db: str | None, **extra: Any) -> Iterator[App]:
    """The application over an existing database (a typo must not create an empty one)."""
    settings = settings_for(db, **extra)
    path = settings.sqlite_path()
    if path is not None and not path.exists():
        fail(f"--db: no database at {path}; create one with `careflow seed`")
    with database(settings.database_url):
        app = bootstrap(settings)
    try:
        yield app
    finally:
        app.dispose()


def run(fn: Callable[[], T], as_json: bool = False) -> T:
    """Run a use case, turning careflow's errors into one-line exits."""
    try:
        return fn()
    except Conflict as exc:
        if as_json:
            emit({"error": exc.message, "violations": [
                {"code": v.code.value, "severity": v.severity.value, "subject": v.subject,
                 "message": v.message, "remedy": v.remedy} for v in exc.violations]})
            raise typer.Exit(1) from exc
        codes = ", ".join(f"{v.code.value} ({v.subject})" for v in exc.violations)
        fail(f"{exc.message}: {codes}" if codes else exc.message, 1)
    except (InvalidRequest, NotFound) as exc:
        fail(str(exc))
    except CareflowError as exc:
        fail(str(exc), 1)


def emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text")
    except json.JSONDecodeError as exc:
        fail(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}")
    except RecursionError:
        fail(f"{path} is not usable JSON: it is nested too deeply")
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        fail(f"{path} is not usable JSON: {exc}")
