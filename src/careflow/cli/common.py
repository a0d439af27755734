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


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit (2: bad input)."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def opened(db: str | None) -> Iterator[App]:
    app = bootstrap(settings_for(db))
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
    except json.JSONDecodeError as exc:
        fail(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}")
