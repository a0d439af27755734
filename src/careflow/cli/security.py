"""``careflow users …``, ``careflow token``, ``careflow audit verify`` and ``careflow db grant-app``."""

from __future__ import annotations

import os
import secrets
import time
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from careflow.cli.common import AsJson, Db, console, database, emit, fail, opened, run
from careflow.config import Settings

users_app = typer.Typer(no_args_is_help=True, help="Local users (the embedded default's identity store).")
audit_app = typer.Typer(no_args_is_help=True, help="The audit trail: verify its hash chain.")
db_app = typer.Typer(no_args_is_help=True, help="Database administration.")

Roles = Annotated[list[str], typer.Option("--role", help="a role (repeat for several)")]
Sites = Annotated[list[str] | None, typer.Option("--site", help="limit the user to a site (repeat)")]


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="the login name")],
    role: Roles,
    password: Annotated[str | None, typer.Option("--password", help="default: CAREFLOW_USER_PASSWORD, "
                                                 "else one is generated and printed")] = None,
    site: Sites = None,
    replace: Annotated[bool, typer.Option("--replace", help="reset an existing user")] = False,
    db: Db = None,
) -> None:
    """Add a local user with roles (and optionally a site limit)."""
    from careflow.adapters.security.users import add_user

    chosen = password or os.environ.get("CAREFLOW_USER_PASSWORD") or secrets.token_urlsafe(12)
    with opened(db) as app, database(app.settings.database_url):
        user = run(lambda: add_user(app.engine, username, chosen, role, sites=site, replace=replace))
    console.print(f"user {user.id} ({', '.join(sorted(user.roles))}) "
                  f"{'updated' if replace else 'added'}", soft_wrap=True)
    if not password and not os.environ.get("CAREFLOW_USER_PASSWORD"):
        console.print(f"password: {chosen}", soft_wrap=True)


@users_app.command("list")
def list_(db: Db = None, as_json: AsJson = False) -> None:
    """List local users."""
    from careflow.adapters.security.users import list_users

    with opened(db) as app, database(app.settings.database_url):
        found = list_users(app.engine)
    if as_json:
        emit([{"id": u.id, "roles": sorted(u.roles), "sites": None if u.sites is None else sorted(u.sites),
               "active": u.active} for u in found])
        return
    table = Table(title="users")
    for col in ("id", "roles", "sites", "active"):
        table.add_column(col)
    for u in found:
        table.add_row(u.id, ", ".join(sorted(u.roles)), "all" if u.sites is None else ", ".join(sorted(u.sites)),
                      "yes" if u.active else "no")
    console.print(table)


@users_app.command("disable")
def disable(username: str, db: Db = None) -> None:
    """Disable a user: the token endpoint refuses it, and its issued tokens stop working
    within seconds (each server process re-reads a user's status every couple of seconds)."""
    from careflow.adapters.security.users import set_active

    with opened(db) as app, database(app.settings.database_url):
        if not set_active(app.engine, username, False):
            fail(f"no user {username!r}")
    console.print(f"user {username} disabled")


def token(
    username: Annotated[str, typer.Argument(help="a local user")],
    minutes: Annotated[int | None, typer.Option("--minutes", min=1, max=24 * 60)] = None,
    db: Db = None,
) -> None:
    """Print a bearer token for a local user (for scripts; signed with the local secret)."""
    from careflow.adapters.security.tokens import TokenIssuer
    from careflow.adapters.security.users import get_user

    with opened(db) as app, database(app.settings.database_url):
        user = get_user(app.engine, username)
        if user is None or not user.active:
            fail(f"no active user {username!r}")
        issuer = TokenIssuer.from_settings(app.settings)
        print(issuer.issue(user.id, user.roles, minutes=minutes,
                           sites=None if user.sites is None else sorted(user.sites)))


@audit_app.command("verify")
def verify(db: Db = None, as_json: AsJson = False) -> None:
    """Walk the audit hash chain; exit 1 and name the first broken link if it was tampered with."""
    from sqlalchemy import func, select

    from careflow.adapters.db.audit import verify as verify_chain
    from careflow.adapters.db.tables import audit_log

    with opened(db) as app, database(app.settings.database_url):
        with app.engine.connect() as conn:
            total = int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())
        started = time.perf_counter()
        with Progress(TextColumn("verifying the audit chain"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                      TimeElapsedColumn(), console=console, transient=True, disable=as_json) as bar:
            task = bar.add_task("verify", total=total)
            report = verify_chain(app.engine, progress=lambda n: bar.update(task, completed=n))
        seconds = time.perf_counter() - started
    if as_json:
        emit({**report.as_dict(), "seconds": round(seconds, 3)})
    elif report.ok:
        console.print(f"audit chain intact: {report.entries:,} entries, head at {report.head_seq:,} "
                      f"({seconds:.2f} s)")
    else:
        console.print(f"[bold red]audit chain broken[/] at entry {report.broken_seq}: {report.problem} "
                      f"({report.entries:,} entries read)", soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)


@db_app.command("grant-app")
def grant_app(
    role: Annotated[str, typer.Argument(help="the PostgreSQL role the application connects as")],
    db: Db = None,
) -> None:
    """PostgreSQL: give the application role what it needs and nothing more; in particular it
    may only SELECT and INSERT on the audit log, never UPDATE, DELETE or TRUNCATE it."""
    from careflow.adapters.db.grants import grant_application_role

    with opened(db) as app, database(app.settings.database_url):
        if app.engine.dialect.name != "postgresql":
            fail("--db: grant-app is for PostgreSQL (SQLite has no roles; its triggers refuse edits)")
        run(lambda: grant_application_role(app.engine, role))
    console.print(f"role {role} may use careflow; the audit log is append-only for it")


def demo_users(settings: Settings) -> str:
    """One local user per role, named after the role, with the demo password:
    ``CAREFLOW_DEMO_PASSWORD``, else one generated at first run and kept (mode 0600) beside
    the database. Existing demo users get the current password. Returns the password."""
    from careflow.adapters.security.tokens import secret_path
    from careflow.adapters.security.users import add_user
    from careflow.bootstrap import bootstrap
    from careflow.domain.access import ROLES

    password = settings.demo_password
    if not password:
        path = secret_path(settings).with_suffix(".demo-password")
        if path.exists():
            password = path.read_text(encoding="utf-8").strip()
        if len(password) < 8:
            password = secrets.token_urlsafe(12)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(password + "\n")
    elif len(password) < 8:
        fail("CAREFLOW_DEMO_PASSWORD: a password needs at least 8 characters")
    app = bootstrap(settings)
    try:
        with database(settings.database_url):
            for role in ROLES:
                add_user(app.engine, role, password, [role], replace=True)
    finally:
        app.dispose()
    return password
