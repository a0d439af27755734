"""A real server process over real HTTP: `careflow serve`, then a client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from careflow.config import load_settings
from tests.auth import auth_headers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(proc: subprocess.Popen[str], base: str, seconds: float = 60) -> None:
    """Until the served ``/health`` answers (fails if the process dies or takes too long)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "server died"
    proc.kill()
    pytest.fail(f"the server did not come up within {seconds:.0f} s")


@pytest.fixture(scope="module")
def server(live_db: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "CAREFLOW_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "careflow.cli", "serve", "--db", live_db], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(proc, base)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


def test_the_served_api_finds_and_books(server: str, live_db: str) -> None:
    headers = auth_headers(load_settings(database_url=live_db), "scheduler")
    with httpx.Client(base_url=server, timeout=30, headers=headers) as http:
        assert http.get("/api/v1/sites").json()["total"] == 2
        found = http.post("/api/v1/availability/find",
                          json={"service_id": "svc-ortho-new", "patient_id": "pat-00003", "within_days": 14})
        assert found.status_code == 200, found.text
        option = found.json()["options"][0]
        booked = http.post("/api/v1/bookings", json={"option": option})
        assert booked.status_code == 201, booked.text
        assert http.get(f"/api/v1/bookings/{booked.json()['id']}").json()["status"] == "booked"
        bad = http.post("/api/v1/availability/find", content=b"{",
                        headers={"content-type": "application/json"})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert "openapi" in http.get("/openapi.json").json()


def test_serve_with_two_workers_answers_and_stops_cleanly(live_db: str) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "careflow.cli", "serve", "--db", live_db,
                             "--port", str(port), "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, base)
        headers = auth_headers(load_settings(database_url=live_db), "scheduler")
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            # new connections spread over both workers; every one answers
            statuses = [httpx.get(f"{base}/api/v1/sites", headers=headers).status_code for _ in range(10)]
            assert statuses == [200] * 10
            assert http.get("/api/v1/me").json()["roles"] == ["scheduler"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/health", timeout=1)
