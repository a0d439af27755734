"""bench/find.py: `find` for a surgical case across the whole regional demo, 14-day window.

In process, on SQLite, after a warm-up: p50 and p99 of the whole use case (snapshot read,
search, ranking and the full check of every proposed option). Patients are those with an
approved authorization for the case, as a scheduler would search for. Target: p99 ≤ 50 ms.
Also the share of answers that are ``proven`` (no slot that could rank went unchecked, and each
option's people and units are the proven cheapest at its start).

    .venv/bin/python bench/find.py [--runs 300]
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from _common import NOW, machine, report, seed_regional, sqlite_url, summary_ms
from careflow.bootstrap import bootstrap, tune_gc
from careflow.config import load_settings
from careflow.domain.options import FindRequest
from careflow.domain.patients import AuthorizationStatus
from careflow.services.finding import find

SURGERY = "svc-tka"
OTHERS = ("svc-im-new", "svc-us-abdomen", "svc-infusion-iron")


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

    def measure(service: str, patients: list[str], runs: int) -> tuple[list[float], float, float]:
        for p in patients[:10]:  # warm-up: catalog, capacity pages, calendar read model
            find(FindRequest(service, p, NOW, NOW + timedelta(days=14)), app.deps)
        samples, options, proven = [], 0, 0
        tune_gc()  # as the server does once warm
        for i in range(runs):
            request = FindRequest(service, patients[i % len(patients)], NOW, NOW + timedelta(days=14))
            began = time.perf_counter()
            result = find(request, app.deps)
            samples.append(time.perf_counter() - began)
            options += len(result.options)
            proven += result.proven
        return samples, options / runs, proven / runs

    rows = []
    surgery, surgery_options, surgery_proven = measure(SURGERY, authorized, args.runs)
    head = summary_ms(surgery)
    rows.append({"service": SURGERY, **head, "options/find": round(surgery_options, 1),
                 "proven": f"{surgery_proven:.0%}"})
    for service in OTHERS:
        samples, per, share = measure(service, everyone, max(50, args.runs // 3))
        rows.append({"service": service, **summary_ms(samples), "options/find": round(per, 1),
                     "proven": f"{share:.0%}"})
    app.dispose()
    report("find over the regional demo (14-day window, in process, SQLite)", rows, {
        "bench": "find", "service": SURGERY, "runs": args.runs, **head,
        "options_per_find": round(surgery_options, 1), "proven_share": round(surgery_proven, 3),
        "target_p99_ms": 50,
        "meets_target": head["p99_ms"] <= 50, "seed_s": round(seed_s, 1), "others": rows[1:],
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
