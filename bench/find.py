"""bench/find.py: `find` for a surgical case across the whole regional demo, 14-day window.

In process, on SQLite, after a warm-up: p50 and p99 of the whole use case (snapshot read,
search, ranking and the full check of every proposed option). Patients are those with an
approved authorization for the case, as a scheduler would search for. Target: p99 ≤ 50 ms.
Also the share of answers that are ``proven`` (no slot that could rank went unchecked, and each
option's people and units are the proven cheapest at its start).

And the share handed to CP-SAT because checking slot by slot ran out of budget (none here:
the demo's finds see a few dozen slots; ``bench/find_cp_sat.py`` measures that path).

    .venv/bin/python bench/find.py [--runs 300]
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from typing import Any

from _common import NOW, machine, report, seed_regional, sqlite_url, summary_ms
from careflow.bootstrap import App, bootstrap, tune_gc
from careflow.config import load_settings
from careflow.domain.options import FindRequest
from careflow.domain.patients import AuthorizationStatus
from careflow.services.finding import find

SURGERY = "svc-tka"
OTHERS = ("svc-im-new", "svc-us-abdomen", "svc-infusion-iron")


def measure(app: App, service: str, patients: list[str], runs: int) -> dict[str, Any]:
    """Latency of ``runs`` finds (after a warm-up), options per find, and the shares of finds
    proven and handed to CP-SAT."""
    for p in patients[:10]:  # warm-up: catalog, capacity pages, calendar read model
        find(FindRequest(service, p, NOW, NOW + timedelta(days=14)), app.deps)
    samples, options, proven, handed = [], 0, 0, 0
    tune_gc()  # as the server does once warm
    for i in range(runs):
        request = FindRequest(service, patients[i % len(patients)], NOW, NOW + timedelta(days=14))
        began = time.perf_counter()
        result = find(request, app.deps)
        samples.append(time.perf_counter() - began)
        options += len(result.options)
        proven += result.proven
        handed += result.cp_sat
    return {**summary_ms(samples), "options_per_find": round(options / runs, 1),
            "proven_share": round(proven / runs, 3), "cp_sat_share": round(handed / runs, 3)}


def row(service: str, measured: dict[str, Any]) -> dict[str, Any]:
    """A table row: shares as percentages."""
    shares = {"proven": f"{measured['proven_share']:.0%}", "cp-sat": f"{measured['cp_sat_share']:.0%}"}
    rest = {k: v for k, v in measured.items() if not k.endswith("_share")}
    return {"service": service, **rest, **shares}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    url = sqlite_url("find")
    system, seed_s = seed_regional(url)
    app = bootstrap(load_settings(database_url=url), clock=lambda: NOW)
    authorized = sorted({a.patient_id for a in system.authorizations
                         if a.service_id == SURGERY and a.status is AuthorizationStatus.APPROVED})
    everyone = sorted(p.id for p in system.patients)
    head = measure(app, SURGERY, authorized, args.runs)
    others = {service: measure(app, service, everyone, max(50, args.runs // 3)) for service in OTHERS}
    app.dispose()
    rows = [row(SURGERY, head), *(row(s, m) for s, m in others.items())]
    report("find over the regional demo (14-day window, in process, SQLite)", rows, {
        "bench": "find", "service": SURGERY, "runs": args.runs, **head,
        "target_p99_ms": 50, "meets_target": head["p99_ms"] <= 50, "seed_s": round(seed_s, 1),
        "others": [{"service": s, **m} for s, m in others.items()], "machine": machine(),
    })


if __name__ == "__main__":
    main()
