"""bench/http_load.py: authenticated mixed load over HTTP against the server on PostgreSQL.

A fresh PostgreSQL database (``careflow_bench``, or ``--db``) is seeded with the regional
demo; the API is started as a subprocess (``careflow serve --workers N``: uvicorn worker
processes over ``careflow.api.asgi:app``); this process then drives it with
``--clients`` concurrent httpx clients (threads), each with its own scheduler bearer
token, for ``--seconds`` after a short warm-up:

- 70 % ``POST /api/v1/availability/find`` (a clinic, imaging or infusion service for a
  random patient over a 3-day window in the demo's horizon);
- 20 % reads, evenly: ``GET /api/v1/bookings/{id}``, ``GET /api/v1/bookings?patient_id=``,
  ``GET /api/v1/patients/{id}``;
- 10 % ``POST /api/v1/holds`` with an option the client's last finds returned, then
  ``POST /api/v1/bookings`` with the hold.

It reports requests per second, p50/p95/p99 per route, the error rate (409 refusals,
an option taken by another client meanwhile, are counted apart: they are the expected
answer) and the 5xx count, a Rich progress bar while it runs, and one JSON object on
the last line. Target: ≥ 300 requests/s on 2 cores, p99 find ≤ 150 ms, 0 % 5xx.

    .venv/bin/python bench/http_load.py [--seconds 60] [--clients 32] [--workers 2] [--db URL] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import text

from _common import NOW, console, machine, percentile, postgres_url, report, seed_regional
from careflow.adapters.db.engine import make_engine
from careflow.adapters.security.tokens import TokenIssuer
from careflow.config import Settings

SERVICES = ("svc-im-fu", "svc-fm-fu", "svc-cardio-fu", "svc-peds-fu", "svc-ortho-fu", "svc-obgyn-fu",
            "svc-onc-fu", "svc-uro-fu", "svc-ent-fu", "svc-us-abdomen", "svc-ct-chest", "svc-im-new",
            "svc-infusion-iron")
WARMUP_SECONDS = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ids(url: str) -> tuple[list[str], list[str]]:
    """Patient ids and booked booking ids in the database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            patients = [r[0] for r in conn.execute(text("SELECT id FROM patient ORDER BY id"))]
            bookings = [r[0] for r in conn.execute(text(
                "SELECT id FROM booking WHERE status = 'booked' ORDER BY id LIMIT 20000"))]
    finally:
        engine.dispose()
    return patients, bookings


def _has_demo(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT count(*) FROM site")).scalar())
    except Exception:
        return False
    finally:
        engine.dispose()


def start_server(url: str, port: int, workers: int, secret_file: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CAREFLOW_DATABASE_URL": url, "CAREFLOW_AUTH_SECRET_FILE": str(secret_file),
           "CAREFLOW_LOG_LEVEL": "warning", "CAREFLOW_ENVIRONMENT": "production",
           # the benchmark is one client address with many tokens: lift the per-client limits
           "CAREFLOW_RATE_LIMIT_PER_MINUTE": "100000000"}
    cmd = [sys.executable, "-m", "careflow.cli", "serve", "--db", url, "--port", str(port),
           "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"the server exited with {proc.returncode}:\n{err[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the server did not answer /health within 120 s")


class Recorder:
    """Latencies and statuses per route, kept per client thread and merged at the end."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.count = 0

    def add(self, route: str, status: int, seconds: float) -> None:
        self.samples[route].append(seconds)
        self.statuses[route][status] += 1
        self.count += 1


class Client(threading.Thread):
    def __init__(self, n: int, base: str, token: str, patients: list[str], bookings: list[str],
                 start_at: float, stop_at: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self.patients, self.bookings = patients, bookings
        self.rng = random.Random(seed)
        self.start_at, self.stop_at = start_at, stop_at
        self.rec = Recorder()  # after the warm-up only
        self.sent = 0  # every request, for the progress bar
        self.options: list[dict[str, Any]] = []

    def _call(self, route: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        began = time.perf_counter()
        try:
            resp: httpx.Response | None = self.http.request(method, url, **kwargs)
            status = resp.status_code if resp is not None else 0
        except httpx.HTTPError:
            resp, status = None, 0
        elapsed = time.perf_counter() - began
        self.sent += 1
        if time.monotonic() >= self.start_at:
            self.rec.add(route, status, elapsed)
        return resp

    def find(self) -> None:
        start = NOW + timedelta(days=self.rng.randint(1, 40), hours=self.rng.choice((0, 2, 4)))
        body = {"service_id": self.rng.choice(SERVICES), "patient_id": self.rng.choice(self.patients),
                "earliest": start.isoformat(), "latest": (start + timedelta(days=3)).isoformat(), "limit": 5}
        resp = self._call("find", "POST", "/api/v1/availability/find", json=body)
        if resp is not None and resp.status_code == 200:
            options = resp.json()["options"]
            if options:
                self.options = [*self.options, self.rng.choice(options)][-5:]

    def read(self) -> None:
        kind = self.rng.randrange(3)
        if kind == 0:
            self._call("get booking", "GET", f"/api/v1/bookings/{self.rng.choice(self.bookings)}")
        elif kind == 1:
            self._call("bookings by patient", "GET", "/api/v1/bookings",
                       params={"patient_id": self.rng.choice(self.patients), "limit": 20})
        else:
            self._call("get patient", "GET", f"/api/v1/patients/{self.rng.choice(self.patients)}")

    def hold_and_book(self) -> None:
        if not self.options:
            self.find()
            if not self.options:
                return
        option = self.options.pop()
        held = self._call("hold", "POST", "/api/v1/holds", json={"option": option})
        if held is not None and held.status_code == 201:
            self._call("book", "POST", "/api/v1/bookings", json={"hold_id": held.json()["id"]})

    def run(self) -> None:
        try:
            while time.monotonic() < self.stop_at:
                roll = self.rng.random()
                if roll < 0.70:
                    self.find()
                elif roll < 0.90:
                    self.read()
                else:
                    self.hold_and_book()
        finally:
            self.http.close()


def _route_rows(merged: Recorder, seconds: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows, routes = [], {}
    for route in ("find", "get booking", "bookings by patient", "get patient", "hold", "book"):
        samples = merged.samples.get(route, [])
        if not samples:
            continue
        statuses = merged.statuses[route]
        ms = [s * 1000 for s in samples]
        errors = sum(c for st, c in statuses.items() if st == 0 or (st >= 400 and st != 409))
        entry = {"count": len(samples), "rps": round(len(samples) / seconds, 1),
                 "p50_ms": round(percentile(ms, 0.50), 1), "p95_ms": round(percentile(ms, 0.95), 1),
                 "p99_ms": round(percentile(ms, 0.99), 1), "max_ms": round(max(ms), 1),
                 "conflicts_409": statuses.get(409, 0), "errors": errors,
                 "server_errors_5xx": sum(c for st, c in statuses.items() if st >= 500),
                 "statuses": {str(k): v for k, v in sorted(statuses.items())}}
        routes[route] = entry
        rows.append({"route": route, "n": entry["count"], "rps": entry["rps"], "p50 ms": entry["p50_ms"],
                     "p95 ms": entry["p95_ms"], "p99 ms": entry["p99_ms"], "409": entry["conflicts_409"],
                     "err": errors, "5xx": entry["server_errors_5xx"]})
    return rows, routes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--db", default=None, help="PostgreSQL URL (default: the careflow_bench database)")
    parser.add_argument("--reuse", action="store_true", help="keep the database if it holds a demo already")
    args = parser.parse_args()

    url = args.db or postgres_url()
    seeded = None
    if not (args.reuse and _has_demo(url)):
        console.print(f"seeding the regional demo into {url} …")
        _, seeded = seed_regional(url)
    patients, bookings = _ids(url)
    folder = Path("var/bench")
    folder.mkdir(parents=True, exist_ok=True)
    secret_file = folder / "http_load.jwt-secret"
    issuer = TokenIssuer.from_settings(Settings(database_url=url, auth_secret_file=str(secret_file)))
    port = _free_port()
    console.print(f"starting the API: uvicorn, {args.workers} workers, port {port} …")
    server = start_server(url, port, args.workers, secret_file)
    try:
        base = f"http://127.0.0.1:{port}"
        began = time.monotonic()
        start_at = began + WARMUP_SECONDS
        stop_at = start_at + args.seconds
        clients = [Client(i, base, issuer.issue(f"bench-{i}", ["scheduler"], minutes=24 * 60),
                          patients, bookings, start_at, stop_at, seed=7 + i) for i in range(args.clients)]
        load_before = os.getloadavg()
        for c in clients:
            c.start()
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                      TimeElapsedColumn(), console=console, transient=False) as progress:
            task = progress.add_task("warm-up", total=WARMUP_SECONDS + args.seconds, info="")
            last_sent, last_t = 0, time.monotonic()
            while any(c.is_alive() for c in clients):
                time.sleep(0.5)
                now = time.monotonic()
                sent = sum(c.sent for c in clients)
                rate = (sent - last_sent) / max(now - last_t, 1e-9)
                last_sent, last_t = sent, now
                progress.update(task, completed=min(now - began, WARMUP_SECONDS + args.seconds),
                                description="warm-up" if now < start_at else "load",
                                info=f"{sent} requests, {rate:.0f}/s")
        load_after = os.getloadavg()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    merged = Recorder()
    for c in clients:
        for route, samples in c.rec.samples.items():
            merged.samples[route] += samples
            for st, n in c.rec.statuses[route].items():
                merged.statuses[route][st] += n
        merged.count += c.rec.count
    rows, routes = _route_rows(merged, args.seconds)
    total = merged.count
    errors = sum(r["errors"] for r in routes.values())
    fivexx = sum(r["server_errors_5xx"] for r in routes.values())
    rps = total / args.seconds
    find_p99 = routes.get("find", {}).get("p99_ms", float("nan"))
    result = {
        "benchmark": "http_load", "database": "postgresql", "seconds": args.seconds,
        "warmup_seconds": WARMUP_SECONDS, "clients": args.clients, "server_workers": args.workers,
        "requests": total, "rps": round(rps, 1), "errors": errors,
        "error_rate": round(errors / total, 5) if total else None,
        "conflicts_409": sum(r["conflicts_409"] for r in routes.values()),
        "server_errors_5xx": fivexx, "routes": routes,
        "seed_seconds": None if seeded is None else round(seeded, 1),
        "machine": {**machine(), "nproc": os.cpu_count(), "loadavg_before": load_before,
                    "loadavg_after": load_after},
        "targets": {"rps_300": rps >= 300, "find_p99_150ms": find_p99 <= 150, "no_5xx": fivexx == 0},
    }
    report(f"HTTP load: {rps:.0f} requests/s, {args.clients} clients, {args.workers} workers", rows, result)


if __name__ == "__main__":
    main()
