"""Ranked alternatives in their JSON form, as the exception queue and offers carry them.

The shape is the API's option (``OptionIO``): a person working the queue can post an
alternative back unchanged to hold, book or reschedule with it.
"""

from __future__ import annotations

from typing import Any

from careflow.domain.options import Option

__all__ = ["option_doc"]


def option_doc(option: Option, rank: int, why: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = {
        "rank": rank,
        "service_id": option.service_id,
        "patient_id": option.patient_id,
        "site_id": option.site_id,
        "start": option.start.isoformat(),
        "end": option.end.isoformat(),
        "urgency": option.urgency.value,
        "allocations": [{"resource_id": a.resource_id, "role": a.role, "start": a.start.isoformat(),
                         "end": a.end.isoformat(), "lane": a.lane} for a in option.allocations],
        "items": [{"sku": i.sku, "quantity": i.quantity} for i in option.items],
        "score": round(option.score, 3),
    }
    if why:
        doc["why"] = why
    return doc
