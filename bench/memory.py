"""bench/memory.py: peak RSS of the server with the regional demo loaded.

Seeds the regional demo into SQLite, starts `careflow serve` as its own process, warms
it with finds for every example request and a spread of services and patients (so the
catalog, capacity pages and the calendar read model are all populated), books a few
hundred options, and samples the server's resident set size throughout. Target ≤ 500 MB.

    .venv/bin/python bench/memory.py
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

from _common import machine, report, seed_regional, sqlite_url

SERVICES = ("svc-tka", "svc-tha", "svc-lap-chole", "svc-im-new", "svc-cardio-fu", "svc-mri-knee",
            "svc-ct-chest", "svc-us-abdomen", "svc-infusion-iron", "svc-infusion-chemo", "svc-cataract")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    url = sqlite_url("memory")
    seed_regional(url)
    port = free_port()
    env = {**os.environ, "CAREFLOW_PORT": str(port)}
    server = subprocess.Popen([sys.executable, "-m", "careflow.cli", "serve", "--db", url], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = psutil.Process(server.pid)
    peak = {"rss": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                peak["rss"] = max(peak["rss"], proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(600):
            try:
                if http.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        idle = proc.memory_info().rss
        finds = books = 0
        for request in sorted(Path("examples/requests").glob("*.json")):
            http.post("/api/v1/availability/find", json=json.loads(request.read_text()))
            finds += 1
        for i in range(300):
            body = {"service_id": SERVICES[i % len(SERVICES)], "patient_id": f"pat-{(i * 13) % 5000 + 1:05d}",
                    "within_days": 28}
            found = http.post("/api/v1/availability/find", json=body)
            finds += 1
            options = found.json().get("options", []) if found.status_code == 200 else []
            if options and i % 2 == 0:
                books += http.post("/api/v1/bookings", json={"option": options[-1]}).status_code == 201
        http.get("/api/v1/patients", params={"limit": 500})
        http.get("/api/v1/resources", params={"limit": 500})
    stop.set()
    sampler.join()
    final = proc.memory_info().rss
    server.terminate()
    server.wait(timeout=30)
    mb = 1024 * 1024
    row = {"idle_mb": round(idle / mb, 1), "peak_mb": round(peak["rss"] / mb, 1),
           "final_mb": round(final / mb, 1), "finds": finds, "bookings": books}
    report("server memory with the regional demo (SQLite)", [row], {
        "bench": "memory", **row, "target_mb": 500, "meets_target": peak["rss"] / mb <= 500,
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
