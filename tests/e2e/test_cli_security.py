"""Users, tokens and the audit trail from the command line, as an administrator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from careflow.adapters.db.engine import WRITE_OPTION, make_engine
from careflow.adapters.db.migrator import migrate
from careflow.adapters.security.tokens import TokenVerifier
from careflow.api.app import create_app
from careflow.bootstrap import bootstrap
from careflow.cli.security import demo_users
from careflow.config import load_settings
from careflow.domain.access import ROLES
from tests.e2e.test_cli import careflow


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'careflow.db'}"
    migrate(url)
    return url


def test_an_admin_adds_a_user_who_then_gets_a_working_token(db: str) -> None:
    added = careflow("users", "add", "alice", "--role", "scheduler", "--site", "site-a",
                     "--password", "pw-alice-123", "--db", db)
    assert added.returncode == 0, added.stderr
    listed = careflow("users", "list", "--json", "--db", db)
    assert json.loads(listed.stdout) == [{"id": "alice", "roles": ["scheduler"], "sites": ["site-a"],
                                          "active": True}]
    issued = careflow("token", "alice", "--db", db)
    assert issued.returncode == 0, issued.stderr
    claims = TokenVerifier.from_settings(load_settings(database_url=db)).verify(issued.stdout.strip())
    assert (claims.subject, claims.roles, claims.sites) == ("alice", frozenset({"scheduler"}),
                                                             frozenset({"site-a"}))


def test_a_generated_password_is_printed_once(db: str) -> None:
    added = careflow("users", "add", "bob", "--role", "auditor", "--db", db)
    assert added.returncode == 0
    assert "password:" in added.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["users", "add", "carol", "--role", "wizard", "--password", "pw-123456"], "unknown role 'wizard'"),
    (["users", "add", "carol", "--role", "admin", "--password", "short"], "at least 8 characters"),
    (["users", "add", "bad name", "--role", "admin", "--password", "pw-123456"], "a username is"),
    (["token", "nobody"], "no active user 'nobody'"),
    (["db", "grant-app", "careflow_app"], "grant-app is for PostgreSQL"),
])
def test_bad_input_is_one_line_and_exit_code_2(db: str, args: list[str], message: str) -> None:
    result = careflow(*args, "--db", db)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_audit_verify_passes_then_names_the_entry_that_was_edited(db: str) -> None:
    for name in ("u1", "u2", "u3"):
        added = careflow("users", "add", name, "--role", "admin", "--password", "pw-123456", "--db", db)
        assert added.returncode == 0
    app = bootstrap(load_settings(database_url=db, environment="test"))
    try:
        with TestClient(create_app(app)) as client:
            for i in range(4):  # failed logins and denials are audited
                wrong = {"username": "u1", "password": f"nope-{i}xxx"}
                assert client.post("/api/v1/token", json=wrong).status_code == 401
    finally:
        app.dispose()
    ok = careflow("audit", "verify", "--json", "--db", db)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True and json.loads(ok.stdout)["entries"] == 4
    engine = make_engine(db)
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            conn.execute(text("DROP TRIGGER trg_audit_log_no_update"))
            conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2"))
    engine.dispose()
    broken = careflow("audit", "verify", "--db", db)
    assert broken.returncode == 1
    assert "broken at entry 2" in broken.stdout and "actor" in broken.stdout


def test_the_demo_has_one_user_per_role_named_after_it(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(database_url=db, demo_password="demo-pass-123", environment="test")
    assert demo_users(settings) == "demo-pass-123"
    app = bootstrap(settings)
    try:
        with TestClient(create_app(app)) as client:
            for role in ROLES:
                got = client.post("/api/v1/token", json={"username": role, "password": "demo-pass-123"})
                assert got.status_code == 200, got.text
                body = got.json()
                assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
                me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
                assert me.json()["roles"] == [role]
    finally:
        app.dispose()


def test_without_a_demo_password_one_is_generated_kept_and_reused(db: str) -> None:
    settings = load_settings(database_url=db, environment="test")
    first = demo_users(settings)
    assert len(first) >= 12
    assert demo_users(settings) == first
    secret = Path(db.removeprefix("sqlite:///") + ".demo-password")
    assert secret.stat().st_mode & 0o077 == 0
