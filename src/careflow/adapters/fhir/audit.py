"""The audit trail (``audit_log``) as FHIR ``AuditEvent``, read with SQLAlchemy Core.

| audit_log | AuditEvent |
|---|---|
| id | id (``ae-{id}``) |
| at | recorded |
| action (``booking.book``, ``patient.read``, ``get``…) | subtype (careflow's code) and action (C/R/U/D/E) |
| actor | agent.who.identifier (requestor) |
| entity_type, entity_id | entity.what.identifier (type in entity.type) |
| outcome (ok, success, denied, unauthenticated, …) | outcome (0, 4, 8) and outcomeDesc |
| reason | purposeOfEvent.text |
| rule_version, detail (ids only) | entity.detail |
| seq, hash | extensions: where the entry sits in the hash chain |
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, select

from careflow.adapters.db.tables import audit_log
from careflow.adapters.fhir.wire import CAREFLOW, instant, validated

__all__ = ["AuditQuery", "audit_event", "search_audit"]

JsonDict = dict[str, Any]
EVENT_TYPE = "http://dicom.nema.org/resources/ontology/DCM"
_OK = frozenset({"ok", "success"})
_REFUSED = frozenset({"denied", "unauthenticated", "refused", "rejected", "conflict"})


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters: ``recorded`` bounds (inclusive ``ge``, exclusive ``lt``), agent, entity, action."""

    ge: datetime | None = None
    lt: datetime | None = None
    agent: str | None = None
    entity: str | None = None
    entity_type: str | None = None
    action: str | None = None


def _crude(action: str) -> str:
    """The FHIR action code (Create, Read, Update, Delete, Execute) of a careflow action."""
    verb = action.rsplit(".", 1)[-1].lower()
    if verb in ("read", "search", "get", "list", "export", "head"):
        return "R"
    if verb in ("create", "add", "hold", "book", "issue", "post", "start"):
        return "C"
    if verb in ("delete", "remove"):
        return "D"
    if verb in ("update", "cancel", "reschedule", "arrive", "fulfil", "no_show", "put", "patch", "stop",
                "expire"):
        return "U"
    return "E"


def _outcome(outcome: str) -> str:
    if outcome in _OK:
        return "0"
    return "4" if outcome in _REFUSED else "8"


def audit_event(row: Any) -> JsonDict:
    """One audit_log row as an AuditEvent."""
    details = [{"type": "rule_version", "valueString": row.rule_version}] if row.rule_version else []
    if row.detail:
        details.append({"type": "detail", "valueString": json.dumps(row.detail, sort_keys=True, default=str)})
    entity: JsonDict = {
        "what": {"identifier": {"system": f"{CAREFLOW}/{row.entity_type or 'entity'}",
                                "value": row.entity_id or "-"}},
        "type": {"system": f"{CAREFLOW}/CodeSystem/entity-type", "code": row.entity_type or "unknown"},
    }
    if details:
        entity["detail"] = details
    doc: JsonDict = {
        "resourceType": "AuditEvent", "id": f"ae-{row.id}",
        "type": {"system": EVENT_TYPE, "code": "110110", "display": "Patient Record"}
        if row.entity_type == "patient" else
        {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest",
         "display": "RESTful Operation"},
        "subtype": [{"system": f"{CAREFLOW}/CodeSystem/audit-action", "code": row.action}],
        "action": _crude(row.action), "recorded": instant(row.at),
        "outcome": _outcome(row.outcome), "outcomeDesc": row.outcome,
        "agent": [{"who": {"identifier": {"system": f"{CAREFLOW}/user", "value": row.actor}},
                   "requestor": True}],
        "source": {"observer": {"display": "careflow"}},
        "entity": [entity],
    }
    if row.reason:
        doc["purposeOfEvent"] = [{"text": row.reason}]
    if row.seq is not None:
        doc["extension"] = [{"url": f"{CAREFLOW}/StructureDefinition/audit-seq", "valueString": str(row.seq)},
                            {"url": f"{CAREFLOW}/StructureDefinition/audit-hash", "valueString": row.hash}]
    return validated(doc)


def _where(q: AuditQuery) -> list[ColumnElement[bool]]:
    c = audit_log.c
    out: list[ColumnElement[bool]] = []
    if q.ge is not None:
        out.append(c.at >= q.ge)
    if q.lt is not None:
        out.append(c.at < q.lt)
    if q.agent is not None:
        out.append(c.actor == q.agent)
    if q.entity is not None:
        out.append(c.entity_id == q.entity)
    if q.entity_type is not None:
        out.append(c.entity_type == q.entity_type)
    if q.action is not None:
        out.append(c.action == q.action)
    return out


def search_audit(engine: Engine, q: AuditQuery, offset: int, limit: int,
                 fhir_ids: Sequence[str] = ()) -> tuple[Sequence[Any], int]:
    """The matching audit rows, oldest first, and how many match (``fhir_ids``: ``ae-{id}``)."""
    conditions = _where(q)
    if fhir_ids:
        wanted = [int(i[3:]) for i in fhir_ids if i.startswith("ae-") and i[3:].isdigit() and len(i) < 22]
        conditions.append(audit_log.c.id.in_(wanted))
    where = and_(*conditions) if conditions else None
    cols = [audit_log.c[n] for n in ("id", "at", "actor", "action", "entity_type", "entity_id", "outcome",
                                     "reason", "rule_version", "detail", "seq", "hash")]
    rows = select(*cols).order_by(audit_log.c.at, audit_log.c.id).offset(offset).limit(limit)
    count = select(func.count()).select_from(audit_log)
    if where is not None:
        rows, count = rows.where(where), count.where(where)
    with engine.connect() as conn:
        total = int(conn.execute(count).scalar_one())
        return conn.execute(rows).all(), total
