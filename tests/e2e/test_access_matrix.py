"""Access control end to end: every role × every endpoint, other sites' ids, break-glass,
bad tokens, RS256 through a JWKS, scopes and the token endpoint.

The matrix enumerates every operation the app serves (its OpenAPI schema and its routes,
FHIR's catch-all included) and compares each answer with ``ORACLE``, the hand-written
table of what each operation needs. An operation missing from the table fails the test:
a new endpoint must say which permission guards it before it can ship.

One seeded app serves the whole module (the tiny demo in a SQLite file); every test
that changes data changes only what it created itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from careflow import demo
from careflow.adapters.db.engine import make_engine
from careflow.adapters.db.loader import load_health_system
from careflow.adapters.db.migrator import migrate
from careflow.adapters.db.tables import audit_log
from careflow.adapters.fhir.ids import to_fhir_id
from careflow.adapters.security import users
from careflow.adapters.security.tokens import TokenIssuer, load_or_create_secret
from careflow.api.app import create_app
from careflow.bootstrap import App, bootstrap
from careflow.config import load_settings
from careflow.domain.access import ROLES, Actor
from careflow.domain.access import Permission as P
from tests.auth import auth_headers, token_for
from tests.e2e.conftest import ANCHOR, NOW, window
from tests.fakes import FixedClock

PROBLEM = "application/problem+json"
FHIR = "application/fhir+json"
PUBLIC = "public"
ANY = "any authenticated caller"
Need = str | tuple[str, ...]

# What each operation needs: a permission (or several, all required), PUBLIC or ANY.
# A new route must be added here (the matrix fails until it is).
ORACLE: dict[tuple[str, str], Need] = {
    # documentation and liveness
    ("GET", "/"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    # identity
    ("POST", "/api/v1/token"): PUBLIC,
    ("GET", "/api/v1/me"): ANY,
    ("POST", "/api/v1/break-glass"): P.BREAK_GLASS,
    ("DELETE", "/api/v1/break-glass"): ANY,
    ("GET", "/api/v1/users"): P.USER_MANAGE,
    ("POST", "/api/v1/users"): P.USER_MANAGE,
    ("GET", "/api/v1/violation-codes"): ANY,
    # booking
    ("POST", "/api/v1/availability/find"): (P.BOOKING_READ, P.PATIENT_READ),
    ("POST", "/api/v1/bookings/check"): P.BOOKING_READ,
    ("POST", "/api/v1/holds"): P.BOOKING_WRITE,
    ("POST", "/api/v1/bookings"): P.BOOKING_WRITE,
    ("GET", "/api/v1/bookings"): P.BOOKING_READ,
    ("GET", "/api/v1/bookings/{booking_id}"): P.BOOKING_READ,
    ("POST", "/api/v1/bookings/{booking_id}/cancel"): P.BOOKING_WRITE,
    ("POST", "/api/v1/bookings/{booking_id}/reschedule"): P.BOOKING_WRITE,
    ("POST", "/api/v1/bookings/{booking_id}/arrive"): P.BOOKING_WRITE,
    ("POST", "/api/v1/bookings/{booking_id}/fulfil"): P.BOOKING_WRITE,
    ("POST", "/api/v1/bookings/{booking_id}/no-show"): P.BOOKING_WRITE,
    # the exception queue
    ("GET", "/api/v1/exceptions"): P.EXCEPTION_READ,
    ("POST", "/api/v1/exceptions"): P.EXCEPTION_RAISE,
    ("GET", "/api/v1/exceptions/figures"): P.EXCEPTION_READ,
    ("GET", "/api/v1/exceptions/{item_id}"): P.EXCEPTION_READ,
    ("POST", "/api/v1/cases"): P.BOOKING_WRITE,
    ("GET", "/api/v1/cases"): P.BOOKING_READ,
    ("GET", "/api/v1/cases/{case_id}"): P.BOOKING_READ,
    ("POST", "/api/v1/cases/{case_id}/signals/{signal}"): P.BOOKING_WRITE,
    ("POST", "/api/v1/exceptions/{item_id}/claim"): P.EXCEPTION_WORK,
    ("POST", "/api/v1/exceptions/{item_id}/reassign"): P.EXCEPTION_WORK,
    ("POST", "/api/v1/exceptions/{item_id}/comments"): P.EXCEPTION_WORK,
    ("POST", "/api/v1/exceptions/{item_id}/resolve"): P.EXCEPTION_WORK,
    # referrals (each starts a workflow that books or offers the patient choices)
    ("POST", "/api/v1/referrals"): P.BOOKING_WRITE,
    ("GET", "/api/v1/referrals"): P.BOOKING_READ,
    ("GET", "/api/v1/referrals/{referral_id}"): P.BOOKING_READ,
    ("POST", "/api/v1/referrals/{referral_id}/choose"): P.BOOKING_WRITE,
    # re-coordination runs and the waitlist
    ("GET", "/api/v1/recoordination/runs"): P.BOOKING_READ,
    ("GET", "/api/v1/recoordination/runs/{event_id}"): P.BOOKING_READ,
    ("POST", "/api/v1/waitlist"): P.BOOKING_WRITE,
    ("GET", "/api/v1/waitlist"): P.BOOKING_READ,
    ("GET", "/api/v1/waitlist/{entry_id}"): P.BOOKING_READ,
    ("DELETE", "/api/v1/waitlist/{entry_id}"): P.BOOKING_WRITE,
    ("POST", "/api/v1/waitlist/{entry_id}/accept"): P.BOOKING_WRITE,
    ("POST", "/api/v1/waitlist/{entry_id}/decline"): P.BOOKING_WRITE,
    # the notification send log (read-only; message bodies only with patient.read)
    ("GET", "/api/v1/notifications"): P.BOOKING_READ,
    # bed placement
    ("POST", "/api/v1/admissions"): P.BED_WRITE,
    ("GET", "/api/v1/admissions"): P.BED_READ,
    ("GET", "/api/v1/admissions/{admission_id}"): P.BED_READ,
    ("POST", "/api/v1/admissions/{admission_id}/cancel"): P.BED_WRITE,
    ("GET", "/api/v1/beds/board"): P.BED_READ,
    ("POST", "/api/v1/beds/{bed_id}/cleaned"): P.BED_WRITE,
    ("POST", "/api/v1/beds/{bed_id}/out-of-service"): P.BED_WRITE,
    # staff reallocation (apply changes two pools' availability: master.write)
    ("GET", "/api/v1/staffing/reallocation"): (P.MASTER_READ, P.BOOKING_READ),
    ("POST", "/api/v1/staffing/emergency-demand"): (P.MASTER_READ, P.BOOKING_READ),
    ("POST", "/api/v1/staffing/reallocation/apply"): P.MASTER_WRITE,
    # day-of-surgery sequencing (applying it needs plan.write as well, checked in the route)
    ("POST", "/api/v1/planning/sequence"): P.PLAN_READ,
    # the admission and surgical plan (a proposal)
    ("POST", "/api/v1/planning/admission-plan"): P.PLAN_READ,
    # predictions: advice, explained; the policy that makes overbooking executable
    ("GET", "/api/v1/predictions/durations"): P.PREDICT_READ,
    ("GET", "/api/v1/predictions/demand"): P.PREDICT_READ,
    ("GET", "/api/v1/predictions/overbooking"): (P.PREDICT_READ, P.BOOKING_READ),
    ("POST", "/api/v1/predictions/overbooking/apply"): P.PREDICT_CONFIGURE,
    ("GET", "/api/v1/bookings/{booking_id}/no-show-risk"): (P.PREDICT_READ, P.BOOKING_READ, P.PATIENT_READ),
    ("GET", "/api/v1/bookings/{booking_id}/duration-advice"): (P.PREDICT_READ, P.BOOKING_READ),
    # FHIR R4
    ("GET", "/fhir/r4/metadata"): PUBLIC,
    # SMART Scheduling Links: a public feed of free capacity (never who is booked)
    ("GET", "/fhir/r4/$bulk-publish"): PUBLIC,
    ("GET", "/fhir/r4/$bulk-publish/{kind}.ndjson"): PUBLIC,
    ("POST", "/fhir/r4/Appointment/$find"): (P.BOOKING_READ, P.PATIENT_READ),
    ("POST", "/fhir/r4/Appointment/$hold"): P.BOOKING_WRITE,
    ("POST", "/fhir/r4/Appointment/$book"): P.BOOKING_WRITE,
    ("POST", "/fhir/r4/Appointment/{fhir_id}/$cancel"): (P.BOOKING_READ, P.BOOKING_WRITE),
    ("GET", "/fhir/r4/Appointment"): P.BOOKING_READ,
    ("GET", "/fhir/r4/Appointment/{fhir_id}"): P.BOOKING_READ,
    ("GET", "/fhir/r4/AppointmentResponse"): P.BOOKING_READ,
    ("GET", "/fhir/r4/AppointmentResponse/{fhir_id}"): P.BOOKING_READ,
    ("GET", "/fhir/r4/Slot"): P.MASTER_READ,
    ("GET", "/fhir/r4/Slot/{fhir_id}"): P.MASTER_READ,
    ("GET", "/fhir/r4/Patient"): P.PATIENT_READ,
    ("GET", "/fhir/r4/Patient/{fhir_id}"): P.PATIENT_READ,
    ("GET", "/fhir/r4/AuditEvent"): P.AUDIT_READ,
    ("GET", "/fhir/r4/AuditEvent/{fhir_id}"): P.AUDIT_READ,
    # anything else under /fhir/r4: an OperationOutcome (404, or 405 for a known path)
    **{(m, "/fhir/r4/{path:path}"): PUBLIC for m in ("GET", "POST", "PUT", "PATCH", "DELETE")},
}
# Ingest: facts other systems report (the booking ones run the booking use cases too)
INGESTED = ("ClinicianCalledOut", "ClinicianAvailabilityChanged", "EquipmentWentDown", "EquipmentCameBack",
            "MaintenanceScheduled", "StockChanged", "StockFellBelowThreshold", "AuthorizationChanged",
            "BookingCancelled", "PatientDidNotArrive", "PatientDischarged", "BedCleaned", "ReferralReceived")
for _name in INGESTED:
    ORACLE[("POST", f"/api/v1/events/{_name}")] = (
        (P.EVENT_INGEST, P.BOOKING_WRITE) if _name in ("BookingCancelled", "PatientDidNotArrive")
        else P.EVENT_INGEST)
for _type in ("Location", "Practitioner", "PractitionerRole", "Device", "HealthcareService", "Schedule"):
    ORACLE[("GET", f"/fhir/r4/{_type}")] = P.MASTER_READ
    ORACLE[("GET", f"/fhir/r4/{_type}/{{fhir_id}}")] = P.MASTER_READ
# Management API: the collection (GET list, POST) and the item (GET, PUT, PATCH, DELETE).
for _coll, _item, _read, _write in (
        ("/api/v1/sites", "/api/v1/sites/{site_id}", P.MASTER_READ, P.MASTER_WRITE),
        ("/api/v1/resources", "/api/v1/resources/{resource_id}", P.MASTER_READ, P.MASTER_WRITE),
        ("/api/v1/services", "/api/v1/services/{service_id}", P.MASTER_READ, P.MASTER_WRITE),
        ("/api/v1/stock", "/api/v1/stock/{site_id}/{sku}", P.STOCK_READ, P.STOCK_WRITE),
        ("/api/v1/patients", "/api/v1/patients/{patient_id}", P.PATIENT_READ, P.PATIENT_WRITE),
        ("/api/v1/authorizations", "/api/v1/authorizations/{authorization_id}", P.AUTHORIZATION_READ,
         P.AUTHORIZATION_WRITE)):
    ORACLE.update({("GET", _coll): _read, ("POST", _coll): _write, ("GET", _item): _read,
                   ("PUT", _item): _write, ("PATCH", _item): _write, ("DELETE", _item): _write})
# a site's overbooking policy (after the management items: their templates are looked up by prefix)
ORACLE.update({("GET", "/api/v1/sites/{site_id}/overbooking-policy"): P.PREDICT_READ,
               ("PUT", "/api/v1/sites/{site_id}/overbooking-policy"): P.PREDICT_CONFIGURE})
# a site's planning weights (after the management items: their templates are looked up by prefix)
ORACLE.update({("GET", "/api/v1/sites/{site_id}/planning-weights"): P.PLAN_READ,
               ("PUT", "/api/v1/sites/{site_id}/planning-weights"): P.PLAN_CONFIGURE})
_AV = "/api/v1/resources/{resource_id}/availability"
ORACLE.update({("GET", _AV): P.MASTER_READ, ("PUT", _AV): P.MASTER_WRITE})
for _part in ("blocks", "exceptions"):
    ORACLE.update({("GET", f"{_AV}/{_part}"): P.MASTER_READ, ("POST", f"{_AV}/{_part}"): P.MASTER_WRITE,
                   ("GET", f"{_AV}/{_part}/{{index}}"): P.MASTER_READ,
                   ("PUT", f"{_AV}/{_part}/{{index}}"): P.MASTER_WRITE,
                   ("DELETE", f"{_AV}/{_part}/{{index}}"): P.MASTER_WRITE})


# --- the app and the ids it holds ----------------------------------------------------


@dataclass
class World:
    """The module's app, an admin client and real ids from the tiny demo."""

    app: App
    api: FastAPI
    admin: TestClient
    site_a: str  # the clinic: a site-limited scheduler's own site
    site_b: str  # the hospital: another site
    booking_a: str
    booking_b: str  # a demo booking at site_b
    patient_b: str  # the patient of booking_b
    resource_b: str
    stock_b: tuple[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    docs: dict[str, Any] = field(default_factory=dict)


def _seed(tmp: Path) -> str:
    url = f"sqlite:///{tmp / 'careflow.db'}"
    migrate(url)
    engine = make_engine(url)
    load_health_system(engine, demo.build("tiny", seed=7, anchor=ANCHOR), replace=True)
    engine.dispose()
    return url


def _ok(resp: Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.method} {resp.request.url}: {resp.text[:500]}"
    return resp.json() if resp.content else None


def _find(client: TestClient, site: str | None = None, days: int = 7, skip: int = 0) -> dict[str, Any]:
    """A find body with options (at ``site`` when given) and its first option after ``skip``."""
    services = _ok(client.get("/api/v1/services", params={"limit": 100}))["items"]
    patients = _ok(client.get("/api/v1/patients", params={"limit": 100}))["items"]
    for service in services:
        for patient in patients[:8]:
            body: dict[str, Any] = {"service_id": service["id"], "patient_id": patient["id"], **window(days)}
            if site:
                body["site_ids"] = [site]
            options = _ok(client.post("/api/v1/availability/find", json=body))["options"]
            if len(options) > skip:
                return {"body": body, "option": options[skip], "options": options}
    raise AssertionError(f"the tiny demo has no bookable service at {site}")


def _book(client: TestClient, option: dict[str, Any]) -> str:
    return str(_ok(client.post("/api/v1/bookings", json={"option": option}), 201)["id"])


def _fhir_first(client: TestClient, path: str) -> str:
    bundle = _ok(client.get(f"/fhir/r4/{path}"))
    entries = bundle.get("entry") or []
    assert entries, f"no {path} in the tiny demo"
    return str(entries[0]["resource"]["id"])


def _params(*items: tuple[str, str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters",
            "parameter": [{"name": n, kind: v} if kind != "resource" else {"name": n, "resource": v}
                          for n, kind, v in items]}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = _seed(tmp_path_factory.mktemp("access"))
    app = bootstrap(load_settings(database_url=url, environment="test"), clock=FixedClock(NOW))
    users.add_user(app.engine, "matrix-user", "pw-matrix-1", ["scheduler"])  # the token call's user
    api = create_app(app)
    with TestClient(api, raise_server_exceptions=False, headers=auth_headers(app)) as admin:
        sites = {s["kind"]: s["id"] for s in _ok(admin.get("/api/v1/sites"))["items"]}
        site_a, site_b = sites["clinic"], sites["hospital"]
        demo_b = _ok(admin.get("/api/v1/bookings", params={"site_id": site_b, "limit": 1}))["items"][0]
        booking_a = _book(admin, _find(admin, site_a)["option"])
        resource_b = _ok(admin.get("/api/v1/resources", params={"site_id": site_b, "limit": 1}))["items"][0]
        stock_b = _ok(admin.get("/api/v1/stock", params={"site_id": site_b, "limit": 1}))["items"][0]
        w = World(app, api, admin, site_a, site_b, booking_a, demo_b["id"], demo_b["patient_id"],
                  resource_b["id"], (stock_b["site_id"], stock_b["sku"]))
        _matrix_ids(w)
        yield w
    app.dispose()


def _matrix_ids(w: World) -> None:
    """Ids and bodies the matrix uses: its own booking, hold and options, and items to
    send back unchanged (a POST of an existing item is a 409 for those allowed to write)."""
    c = w.admin
    found = _find(c, days=10, skip=1)
    w.docs["find"] = found["body"]
    w.docs["option"] = found["option"]
    w.docs["option2"] = found["options"][-1]
    later = _find(c, site=w.site_a, days=14, skip=2)
    w.ids["booking"] = _book(c, later["option"])
    w.ids["hold"] = _ok(c.post("/api/v1/holds", json={"option": later["options"][-1]}), 201)["id"]
    # a resolved exception: claim, reassign and resolve answer 409 to those allowed to work
    w.docs["raise"] = {"category": "no_option", "owner_team": "scheduling", "priority": "normal",
                       "summary": "access matrix", "booking_id": w.ids["booking"]}
    exception = _ok(c.post("/api/v1/exceptions", json=w.docs["raise"]), 201)["id"]
    _ok(c.post(f"/api/v1/exceptions/{exception}/resolve", json={"outcome": "no_action_needed"}))
    w.ids["exception"] = exception
    # a withdrawn waitlist entry: accept, decline and withdraw answer 409 to those allowed
    entry = _ok(c.post("/api/v1/waitlist", json={
        "patient_id": found["body"]["patient_id"], "service_id": found["body"]["service_id"],
        "earliest": NOW.isoformat(), "latest": (NOW + timedelta(days=5)).isoformat()}), 201)["id"]
    _ok(c.delete(f"/api/v1/waitlist/{entry}"))
    w.ids["waitlist"] = entry
    w.ids["bed"] = _ok(c.get("/api/v1/resources", params={"kind": "bed", "limit": 1}))["items"][0]["id"]
    for kind, path in (("site", "/api/v1/sites"), ("resource", "/api/v1/resources"),
                       ("service", "/api/v1/services"), ("stock", "/api/v1/stock"),
                       ("patient", "/api/v1/patients"), ("authorization", "/api/v1/authorizations")):
        w.docs[kind] = _ok(c.get(path, params={"limit": 1}))["items"][0]
    resource = w.docs["resource"]
    av = resource["availability"]
    w.docs["block"] = av["blocks"][0]
    w.docs["exception"] = {"start": "2199-01-04T00:00:00+00:00", "end": "2199-01-05T00:00:00+00:00",
                           "kind": "maintenance", "capacity_delta": None, "reason": "access matrix"}
    # FHIR ids, read as the admin
    for type_name in ("Location", "Practitioner", "PractitionerRole", "Device", "HealthcareService",
                      "Schedule", "Patient", "AuditEvent"):
        w.ids[type_name] = _fhir_first(c, f"{type_name}?_count=1")
    w.ids["Slot"] = _fhir_first(c, f"Slot?schedule=Schedule/{w.ids['Schedule']}&_count=1")
    appointment = _ok(c.get(f"/fhir/r4/Appointment/{to_fhir_id(w.ids['booking'])}"))["id"]
    w.ids["Appointment"] = appointment
    w.ids["AppointmentResponse"] = _fhir_first(
        c, f"AppointmentResponse?appointment=Appointment/{appointment}")
    fhir_find = _params(("start", "valueDateTime", NOW.isoformat()),
                        ("end", "valueDateTime", (NOW + timedelta(days=10)).isoformat()),
                        ("visit-type", "valueString", w.docs["find"]["service_id"]),
                        ("patient-reference", "valueReference",
                         {"reference": f"Patient/{w.docs['find']['patient_id']}"}))
    w.docs["fhir_find"] = fhir_find
    proposals = _ok(c.post("/fhir/r4/Appointment/$find", json=fhir_find))["entry"]
    proposed = [e["resource"] for e in proposals if e["search"]["mode"] == "match"]
    w.docs["proposed"] = proposed[len(proposed) // 2]
    held = _ok(c.post("/fhir/r4/Appointment/$hold",
                      json=_params(("appointment-resource", "resource", proposed[-1]))))
    w.ids["fhir_hold"] = held["entry"][0]["resource"]["id"]


# --- the requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    url: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _requests(w: World, n: int, role: str) -> dict[tuple[str, str], Call]:
    """One realistic request per operation (``n`` and ``role`` keep created names unique)."""
    d, i = w.docs, w.ids
    bk, r_id, ex = i["booking"], d["resource"]["id"], i["exception"]
    stock = f"{d['stock']['site_id']}/{d['stock']['sku']}"
    av = f"/api/v1/resources/{r_id}/availability"
    merge = {"content-type": "application/merge-patch+json"}
    calls: dict[tuple[str, str], Call] = {
        ("GET", "/"): Call("/"),
        ("GET", "/health"): Call("/health"),
        ("GET", "/openapi.json"): Call("/openapi.json"),
        ("GET", "/docs"): Call("/docs"),
        ("GET", "/docs/oauth2-redirect"): Call("/docs/oauth2-redirect"),
        ("GET", "/redoc"): Call("/redoc"),
        ("POST", "/api/v1/token"): Call("/api/v1/token",
                                        {"username": "matrix-user", "password": "pw-matrix-1"}),
        ("GET", "/api/v1/me"): Call("/api/v1/me"),
        ("POST", "/api/v1/break-glass"): Call("/api/v1/break-glass",
                                              {"reason": "access matrix", "minutes": 5}),
        ("DELETE", "/api/v1/break-glass"): Call("/api/v1/break-glass"),
        ("GET", "/api/v1/users"): Call("/api/v1/users"),
        ("POST", "/api/v1/users"): Call("/api/v1/users", {
            "username": f"mx-{role}-{n}", "password": "pw-12345678", "roles": ["scheduler"]}),
        ("GET", "/api/v1/violation-codes"): Call("/api/v1/violation-codes"),
        ("POST", "/api/v1/availability/find"): Call("/api/v1/availability/find", d["find"]),
        ("POST", "/api/v1/bookings/check"): Call("/api/v1/bookings/check", {"option": d["option"]}),
        ("POST", "/api/v1/holds"): Call("/api/v1/holds", {"option": d["option"]}),
        ("POST", "/api/v1/bookings"): Call("/api/v1/bookings", {"hold_id": i["hold"]}),
        ("GET", "/api/v1/bookings"): Call("/api/v1/bookings?limit=5"),
        ("GET", "/api/v1/bookings/{booking_id}"): Call(f"/api/v1/bookings/{bk}"),
        ("POST", "/api/v1/bookings/{booking_id}/cancel"): Call(f"/api/v1/bookings/{bk}/cancel",
                                                               {"reason": "access matrix"}),
        ("POST", "/api/v1/bookings/{booking_id}/reschedule"): Call(
            f"/api/v1/bookings/{bk}/reschedule", {"option": d["option2"], "reason": "access matrix"}),
        ("POST", "/api/v1/bookings/{booking_id}/arrive"): Call(f"/api/v1/bookings/{bk}/arrive"),
        ("POST", "/api/v1/bookings/{booking_id}/fulfil"): Call(f"/api/v1/bookings/{bk}/fulfil"),
        ("POST", "/api/v1/bookings/{booking_id}/no-show"): Call(f"/api/v1/bookings/{bk}/no-show"),
        ("GET", "/api/v1/exceptions"): Call("/api/v1/exceptions?limit=5"),
        ("POST", "/api/v1/exceptions"): Call("/api/v1/exceptions", d["raise"]),
        ("GET", "/api/v1/exceptions/figures"): Call("/api/v1/exceptions/figures"),
        ("GET", "/api/v1/exceptions/{item_id}"): Call(f"/api/v1/exceptions/{ex}"),
        ("POST", "/api/v1/exceptions/{item_id}/claim"): Call(f"/api/v1/exceptions/{ex}/claim"),
        ("POST", "/api/v1/exceptions/{item_id}/reassign"): Call(f"/api/v1/exceptions/{ex}/reassign",
                                                                {"assignee": f"mx-{role}-{n}"}),
        ("POST", "/api/v1/exceptions/{item_id}/comments"): Call(f"/api/v1/exceptions/{ex}/comments",
                                                                {"text": "access matrix"}),
        ("POST", "/api/v1/exceptions/{item_id}/resolve"): Call(f"/api/v1/exceptions/{ex}/resolve",
                                                               {"outcome": "duplicate"}),
        # an unknown site: a 404 for those allowed, so the matrix starts no referral workflow
        ("POST", "/api/v1/referrals"): Call("/api/v1/referrals", {
            "patient_id": d["find"]["patient_id"], "service_id": d["find"]["service_id"],
            "site_ids": ["mx-nowhere"]}),
        ("GET", "/api/v1/referrals"): Call("/api/v1/referrals?limit=5"),
        ("GET", "/api/v1/referrals/{referral_id}"): Call("/api/v1/referrals/rf_unknown"),
        ("POST", "/api/v1/referrals/{referral_id}/choose"): Call("/api/v1/referrals/rf_unknown/choose",
                                                                 {"rank": 1}),
        ("GET", "/api/v1/notifications"): Call(f"/api/v1/notifications?booking_id={bk}&limit=5"),
        # an unknown surgeon: a 422 for those allowed, so the matrix starts no workflow
        ("POST", "/api/v1/cases"): Call("/api/v1/cases", {
            "surgeon_id": "mx-nobody", "service_id": d["find"]["service_id"],
            "patient_id": d["find"]["patient_id"], "earliest": "2199-01-01T00:00:00+00:00",
            "latest": "2199-01-05T00:00:00+00:00"}),
        ("GET", "/api/v1/cases"): Call("/api/v1/cases?limit=5"),
        ("GET", "/api/v1/cases/{case_id}"): Call("/api/v1/cases/case_unknown"),
        ("POST", "/api/v1/cases/{case_id}/signals/{signal}"): Call(
            "/api/v1/cases/case_unknown/signals/prep_done"),
        ("POST", "/api/v1/admissions"): Call("/api/v1/admissions", {
            "patient_id": d["find"]["patient_id"], "site_id": d["site"]["id"], "bed_type": "medical",
            "expected_los_hours": 24, "source": "ed"}),
        ("GET", "/api/v1/admissions"): Call("/api/v1/admissions?limit=5"),
        ("GET", "/api/v1/admissions/{admission_id}"): Call("/api/v1/admissions/adm_unknown"),
        ("POST", "/api/v1/admissions/{admission_id}/cancel"): Call("/api/v1/admissions/adm_unknown/cancel",
                                                                   {"reason": "access matrix"}),
        ("GET", "/api/v1/beds/board"): Call(f"/api/v1/beds/board?site_id={d['site']['id']}"),
        ("POST", "/api/v1/beds/{bed_id}/out-of-service"): Call(f"/api/v1/beds/{i['bed']}/out-of-service",
                                                               {"reason": "access matrix"}),
        ("POST", "/api/v1/beds/{bed_id}/cleaned"): Call(f"/api/v1/beds/{i['bed']}/cleaned", {}),
        ("GET", "/api/v1/staffing/reallocation"): Call("/api/v1/staffing/reallocation?date=2026-06-02"),
        ("POST", "/api/v1/staffing/emergency-demand"): Call("/api/v1/staffing/emergency-demand", {
            "date": "2026-06-02", "demands": [{
                "site_id": "site-h1", "role": "interpreter", "language": "es",
                "start": "2026-06-02T14:00:00Z", "end": "2026-06-02T15:00:00Z"}]}),
        # off duty at the source then: a 409 for those allowed, so the matrix moves nobody
        ("POST", "/api/v1/staffing/reallocation/apply"): Call("/api/v1/staffing/reallocation/apply", {
            "proposal": {"source_pool_id": "pool-c1-interp-es", "target_pool_id": "pool-h1-interp-es",
                         "start": "2199-01-05T03:00:00Z", "end": "2199-01-05T04:00:00Z", "units": 1}}),
        # an unknown site: a 404 for those allowed, so the matrix solves nothing
        ("POST", "/api/v1/planning/sequence"): Call("/api/v1/planning/sequence", {
            "site_id": "mx-nowhere", "date": "2026-06-02", "time_limit": 1}),
        ("POST", "/api/v1/planning/admission-plan"): Call("/api/v1/planning/admission-plan", {
            "site_id": "mx-nowhere", "start": "2026-06-02", "days": 1, "time_limit": 1}),
        ("GET", "/api/v1/sites/{site_id}/planning-weights"): Call("/api/v1/sites/site-h1/planning-weights"),
        # a stale version: a 409 for those allowed, so the matrix changes no weights
        ("PUT", "/api/v1/sites/{site_id}/planning-weights"): Call(
            "/api/v1/sites/site-h1/planning-weights",
            {"weights": {"PatientDelay": 5}, "reason": "access matrix", "expected_version": 99}),
        ("GET", "/api/v1/predictions/durations"): Call("/api/v1/predictions/durations?service_id=svc-tka"),
        ("GET", "/api/v1/predictions/demand"): Call(
            "/api/v1/predictions/demand?site_id=site-h1&specialty=orthopedics&days=3"),
        ("GET", "/api/v1/predictions/overbooking"): Call(
            "/api/v1/predictions/overbooking?site_id=site-c1&date=2026-06-08"),
        # the demo's policy is advisory: a 409 for those allowed, so the matrix opens no capacity
        ("POST", "/api/v1/predictions/overbooking/apply"): Call(
            "/api/v1/predictions/overbooking/apply", {"site_id": "site-c1", "date": "2026-06-08"}),
        ("GET", "/api/v1/sites/{site_id}/overbooking-policy"): Call(
            "/api/v1/sites/site-c1/overbooking-policy"),
        # a stale version: a 409 for those allowed, so the matrix changes no policy
        ("PUT", "/api/v1/sites/{site_id}/overbooking-policy"): Call(
            "/api/v1/sites/site-c1/overbooking-policy",
            {"mode": "executable", "reason": "access matrix", "expected_version": 99}),
        ("GET", "/api/v1/bookings/{booking_id}/no-show-risk"): Call(f"/api/v1/bookings/{bk}/no-show-risk"),
        ("GET", "/api/v1/bookings/{booking_id}/duration-advice"): Call(
            f"/api/v1/bookings/{bk}/duration-advice"),
        ("GET", "/api/v1/recoordination/runs"): Call("/api/v1/recoordination/runs?limit=5"),
        ("GET", "/api/v1/recoordination/runs/{event_id}"): Call("/api/v1/recoordination/runs/999999"),
        ("POST", "/api/v1/waitlist"): Call("/api/v1/waitlist", {
            "patient_id": d["find"]["patient_id"], "service_id": d["find"]["service_id"],
            "earliest": "2199-01-01T00:00:00+00:00", "latest": "2199-01-05T00:00:00+00:00"}),
        ("GET", "/api/v1/waitlist"): Call("/api/v1/waitlist?limit=5"),
        ("GET", "/api/v1/waitlist/{entry_id}"): Call(f"/api/v1/waitlist/{i['waitlist']}"),
        ("DELETE", "/api/v1/waitlist/{entry_id}"): Call(f"/api/v1/waitlist/{i['waitlist']}"),
        ("POST", "/api/v1/waitlist/{entry_id}/accept"): Call(f"/api/v1/waitlist/{i['waitlist']}/accept"),
        ("POST", "/api/v1/waitlist/{entry_id}/decline"): Call(f"/api/v1/waitlist/{i['waitlist']}/decline"),
        ("GET", "/fhir/r4/metadata"): Call("/fhir/r4/metadata"),
        ("GET", "/fhir/r4/$bulk-publish"): Call("/fhir/r4/$bulk-publish"),
        ("GET", "/fhir/r4/$bulk-publish/{kind}.ndjson"): Call("/fhir/r4/$bulk-publish/Location.ndjson"),
        ("POST", "/fhir/r4/Appointment/$find"): Call("/fhir/r4/Appointment/$find", d["fhir_find"]),
        ("POST", "/fhir/r4/Appointment/$hold"): Call(
            "/fhir/r4/Appointment/$hold", _params(("appointment-resource", "resource", d["proposed"]))),
        ("POST", "/fhir/r4/Appointment/$book"): Call("/fhir/r4/Appointment/$book", _params(
            ("appointment-reference", "valueReference", {"reference": f"Appointment/{i['fhir_hold']}"}))),
        ("POST", "/fhir/r4/Appointment/{fhir_id}/$cancel"): Call(
            f"/fhir/r4/Appointment/{i['Appointment']}/$cancel", _params(("reason", "valueString", "matrix"))),
        ("GET", "/fhir/r4/Appointment"): Call("/fhir/r4/Appointment?_count=5"),
        ("GET", "/fhir/r4/Appointment/{fhir_id}"): Call(f"/fhir/r4/Appointment/{i['Appointment']}"),
        ("GET", "/fhir/r4/AppointmentResponse"): Call(
            f"/fhir/r4/AppointmentResponse?appointment=Appointment/{i['Appointment']}"),
        ("GET", "/fhir/r4/AppointmentResponse/{fhir_id}"): Call(
            f"/fhir/r4/AppointmentResponse/{i['AppointmentResponse']}"),
        ("GET", "/fhir/r4/Slot"): Call(f"/fhir/r4/Slot?schedule=Schedule/{i['Schedule']}&_count=5"),
        ("GET", "/fhir/r4/AuditEvent"): Call("/fhir/r4/AuditEvent?_count=5"),
    }
    for type_name in ("Location", "Practitioner", "PractitionerRole", "Device", "HealthcareService",
                      "Schedule", "Patient", "AuditEvent", "Slot"):
        calls.setdefault(("GET", f"/fhir/r4/{type_name}"), Call(f"/fhir/r4/{type_name}?_count=5"))
        calls[("GET", f"/fhir/r4/{type_name}/{{fhir_id}}")] = Call(f"/fhir/r4/{type_name}/{i[type_name]}")
    for m in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        calls[(m, "/fhir/r4/{path:path}")] = Call("/fhir/r4/NoSuchType/1", {} if m in ("POST", "PUT", "PATCH")
                                                  else None)
    # Management: POST the existing item (409 when allowed), PUT it back and PATCH nothing
    # without If-Match (428 when allowed), DELETE without If-Match (428 when allowed).
    for kind, coll, item in (("site", "/api/v1/sites", f"/api/v1/sites/{d['site']['id']}"),
                             ("resource", "/api/v1/resources", f"/api/v1/resources/{r_id}"),
                             ("service", "/api/v1/services", f"/api/v1/services/{d['service']['id']}"),
                             ("stock", "/api/v1/stock", f"/api/v1/stock/{stock}"),
                             ("patient", "/api/v1/patients", f"/api/v1/patients/{d['patient']['id']}"),
                             ("authorization", "/api/v1/authorizations",
                              f"/api/v1/authorizations/{d['authorization']['id']}")):
        template = next(t for (m, t) in ORACLE if m == "PUT" and t.startswith(coll + "/{"))
        calls[("GET", coll)] = Call(coll + "?limit=5")
        calls[("POST", coll)] = Call(coll, d[kind])
        calls[("GET", template)] = Call(item)
        calls[("PUT", template)] = Call(item, d[kind])
        calls[("PATCH", template)] = Call(item, {}, merge)
        calls[("DELETE", template)] = Call(item)
    far = {"start": "2199-02-01T00:00:00+00:00", "end": "2199-02-02T00:00:00+00:00"}
    reports: dict[str, Any] = {
        "ClinicianCalledOut": {"resource_id": r_id} | far,
        "ClinicianAvailabilityChanged": {"resource_id": r_id, "available": False} | far,
        "EquipmentWentDown": {"resource_id": r_id} | far,
        "EquipmentCameBack": {"resource_id": r_id, "at": "2199-03-01T00:00:00+00:00"},
        "MaintenanceScheduled": {"resource_id": r_id} | far,
        "StockChanged": {"site_id": d["stock"]["site_id"], "sku": d["stock"]["sku"],
                         "on_hand": d["stock"]["on_hand"]},
        "StockFellBelowThreshold": {"site_id": d["stock"]["site_id"], "sku": d["stock"]["sku"],
                                    "available": 1, "threshold": 2},
        "AuthorizationChanged": {"authorization_id": d["authorization"]["id"],
                                 "status": d["authorization"]["status"]},
        "BookingCancelled": {"booking_id": bk, "reason": "access matrix"},
        "PatientDidNotArrive": {"booking_id": bk},
        "PatientDischarged": {"bed_id": r_id, "patient_id": d["patient"]["id"], "at": far["start"]},
        "BedCleaned": {"bed_id": r_id, "at": far["start"]},
        "ReferralReceived": {"patient_id": d["patient"]["id"], "service_id": d["service"]["id"],
                             "earliest": far["start"], "latest": far["end"]},
    }
    for name, report in reports.items():
        calls[("POST", f"/api/v1/events/{name}")] = Call(f"/api/v1/events/{name}", report)
    avt = "/api/v1/resources/{resource_id}/availability"
    calls[("GET", avt)] = Call(av)
    calls[("PUT", avt)] = Call(av, d["resource"]["availability"])
    for part, doc in (("blocks", d["block"]), ("exceptions", d["exception"])):
        calls[("GET", f"{avt}/{part}")] = Call(f"{av}/{part}")
        calls[("POST", f"{avt}/{part}")] = Call(f"{av}/{part}", doc)
        calls[("GET", f"{avt}/{part}/{{index}}")] = Call(f"{av}/{part}/0")
        calls[("PUT", f"{avt}/{part}/{{index}}")] = Call(f"{av}/{part}/0", doc)
        calls[("DELETE", f"{avt}/{part}/{{index}}")] = Call(f"{av}/{part}/0")
    return calls


def _operations(api: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) the app serves: its OpenAPI schema and its routes
    (FHIR's catch-all and the documentation pages are not in the schema)."""
    ops = {(m.upper(), p) for p, item in api.openapi()["paths"].items() for m in item
           if m.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE")}

    def walk(routes: list[Any]) -> None:
        for route in routes:
            contexts = getattr(route, "effective_route_contexts", None)
            if contexts is not None:  # FastAPI ≥ 0.165 keeps included routers as such
                walk(list(contexts() if callable(contexts) else contexts))
            elif hasattr(route, "routes"):  # a mounted router
                walk(list(route.routes))
            elif getattr(route, "path", None) is not None:
                for m in getattr(route, "methods", None) or ():
                    if m in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                        ops.add((m, route.path))

    walk(list(api.routes))
    return ops


def _allowed(need: Need, role: str) -> bool:
    if need in (PUBLIC, ANY):
        return True
    perms = Actor("x", frozenset({role})).permissions
    return all(p in perms for p in ((need,) if isinstance(need, str) else need))


def _count(app: App, outcome: str) -> int:
    assert app.engine is not None
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)
                                .where(audit_log.c.outcome == outcome)).scalar_one())


def _send(client: TestClient, method: str, call: Call, headers: dict[str, str]) -> Response:
    hdrs = {**call.headers, **headers}
    if call.body is None:
        resp: Response = client.request(method, call.url, headers=hdrs)
    else:
        resp = client.request(method, call.url, content=json.dumps(call.body),
                              headers={"content-type": "application/json", **hdrs})
    return resp


def _refusal_shape(path: str, resp: Response) -> str | None:
    """What is wrong with a 401/403 body, or None (problem+json on REST, OperationOutcome on FHIR)."""
    ctype = resp.headers.get("content-type", "")
    if path.startswith("/fhir/r4"):
        if not ctype.startswith(FHIR) or resp.json().get("resourceType") != "OperationOutcome":
            return f"not an OperationOutcome ({ctype}): {resp.text[:200]}"
    elif not ctype.startswith(PROBLEM) or resp.json().get("status") != resp.status_code:
        return f"not problem+json ({ctype}): {resp.text[:200]}"
    return None


# --- the matrix ------------------------------------------------------------------------


def test_every_operation_is_in_the_oracle(world: World) -> None:
    served = _operations(world.api)
    missing = sorted(served - set(ORACLE))
    assert not missing, (
        "these operations are not in ORACLE (tests/e2e/test_access_matrix.py); add each with the "
        f"permission it needs (or PUBLIC / ANY) so the access matrix covers it: {missing}")
    stale = sorted(set(ORACLE) - served)
    assert not stale, f"ORACLE names operations the app no longer serves; remove them: {stale}"
    requests = _requests(world, 0, "admin")
    assert not sorted(set(ORACLE) - set(requests)), "give _requests a realistic call for each operation"


def test_every_role_on_every_operation(world: World) -> None:
    """Roles lacking the permission get 403 (audited), never 2xx; roles with it never 401/403."""
    assert world.app.engine is not None
    served = sorted(_operations(world.api) & set(ORACLE))
    denied_before = _count(world.app, "denied")
    forbidden = 0
    problems: list[str] = []
    unauthorized_successes: list[str] = []
    client = TestClient(world.api, raise_server_exceptions=False)
    n = 0
    for role in ROLES:
        for method, template in served:
            n += 1
            need = ORACLE[(method, template)]
            call = _requests(world, n, role)[(method, template)]
            subject = f"mx-{role}-{n}"  # one subject per call: a break-glass stays with its caller
            resp = _send(client, method, call, auth_headers(world.app, role, subject=subject))
            where = f"{role} {method} {call.url} → {resp.status_code}"
            if resp.status_code >= 500:
                problems.append(f"{where}: server error {resp.text[:200]}")
            if resp.status_code == 403:
                forbidden += 1
            if _allowed(need, role):
                if resp.status_code in (401, 403):
                    problems.append(f"{where}: {role} has {need} but was refused: {resp.text[:200]}")
                continue
            if resp.is_success:
                unauthorized_successes.append(f"{where} (needs {need})")
            elif resp.status_code != 403:
                problems.append(f"{where}: expected 403 for a role lacking {need}: {resp.text[:200]}")
            else:
                shape = _refusal_shape(template, resp)
                if shape:
                    problems.append(f"{where}: {shape}")
    assert unauthorized_successes == [], (
        f"{len(unauthorized_successes)} unauthorized successes:\n" + "\n".join(unauthorized_successes))
    assert problems == [], "\n".join(problems)
    assert forbidden > 100
    assert _count(world.app, "denied") - denied_before == forbidden, "every 403 is audited as denied, once"


def test_every_non_public_operation_refuses_an_anonymous_caller(world: World) -> None:
    unauthenticated_before = _count(world.app, "unauthenticated")
    client = TestClient(world.api, raise_server_exceptions=False)
    refused = 0
    problems: list[str] = []
    calls = _requests(world, 0, "anonymous")
    for method, template in sorted(_operations(world.api) & set(ORACLE)):
        call = calls[(method, template)]
        resp = _send(client, method, call, {})
        if ORACLE[(method, template)] == PUBLIC:
            if resp.status_code in (401, 403):
                problems.append(f"{method} {call.url} is public but answered {resp.status_code}")
            continue
        if resp.status_code != 401:
            problems.append(f"{method} {call.url} without a token → {resp.status_code}, not 401")
            continue
        refused += 1
        if "Bearer" not in resp.headers.get("www-authenticate", ""):
            problems.append(f"{method} {call.url}: 401 without WWW-Authenticate: Bearer")
        shape = _refusal_shape(template, resp)
        if shape:
            problems.append(f"{method} {call.url}: {shape}")
    assert problems == [], "\n".join(problems)
    assert refused > 50
    assert _count(world.app, "unauthenticated") - unauthenticated_before == refused


@pytest.mark.parametrize(("role", "method", "path"), [
    ("operations_viewer", "POST", "/api/v1/sites"),
    ("operations_viewer", "PUT", "/api/v1/resources/anything/availability"),
    ("rule_author", "POST", "/api/v1/holds"),
    ("rule_author", "POST", "/api/v1/bookings/check"),
    ("operations_viewer", "POST", "/api/v1/availability/find"),
])
def test_a_caller_without_the_permission_is_refused_before_its_body_is_read(
        world: World, role: str, method: str, path: str) -> None:
    denied_before = _count(world.app, "denied")
    client = TestClient(world.api, raise_server_exceptions=False)
    resp = client.request(method, path, headers=auth_headers(world.app, role), json={"not": "valid"})
    assert resp.status_code == 403, resp.text
    assert _count(world.app, "denied") == denied_before + 1


# --- other sites' ids, and break-glass ------------------------------------------------


def test_a_site_limited_scheduler_sees_and_changes_its_site_only(world: World) -> None:
    c, a, b = world.admin, world.site_a, world.site_b
    h = auth_headers(world.app, "scheduler", subject="sched-a", sites=[a])
    other = [
        ("GET", f"/api/v1/bookings/{world.booking_b}", None),
        ("POST", f"/api/v1/bookings/{world.booking_b}/cancel", {"reason": "not mine"}),
        ("POST", f"/api/v1/bookings/{world.booking_b}/arrive", None),
        ("GET", f"/api/v1/bookings?site_id={b}", None),
        ("GET", f"/api/v1/resources/{world.resource_b}", None),
        ("GET", f"/api/v1/resources/{world.resource_b}/availability", None),
        ("GET", f"/api/v1/sites/{b}", None),
        ("GET", f"/api/v1/stock/{world.stock_b[0]}/{world.stock_b[1]}", None),
        ("POST", "/api/v1/availability/find", {**world.docs["find"], "site_ids": [b]}),
        ("GET", f"/fhir/r4/Appointment/{to_fhir_id(world.booking_b)}", None),
        ("GET", f"/fhir/r4/AppointmentResponse?appointment=Appointment/{to_fhir_id(world.booking_b)}", None),
        ("GET", f"/fhir/r4/Location/{b}", None),
        ("GET", f"/fhir/r4/Device/{to_fhir_id(world.resource_b)}", None),
        ("GET", f"/fhir/r4/Appointment?location=Location/{b}", None),
    ]
    for method, url, body in other:
        resp = c.request(method, url, json=body, headers=h)
        assert resp.status_code in (403, 404), f"{method} {url} → {resp.status_code}: {resp.text[:300]}"
    # Lists are cut to the caller's site.
    mine = _ok(c.get("/api/v1/bookings", params={"limit": 500}, headers=h))["items"]
    assert mine and {x["site_id"] for x in mine} == {a}
    by_patient = _ok(c.get("/api/v1/bookings", params={"patient_id": world.patient_b}, headers=h))["items"]
    assert all(x["site_id"] == a for x in by_patient)
    assert {s["id"] for s in _ok(c.get("/api/v1/sites", headers=h))["items"]} == {a}
    assert {r["site_id"] for r in _ok(c.get("/api/v1/resources?limit=500", headers=h))["items"]} == {a}
    assert all(s["site_id"] == a for s in _ok(c.get("/api/v1/stock", headers=h))["items"])
    appts = _ok(c.get("/fhir/r4/Appointment?_count=200", headers=h)).get("entry", [])
    assert all(any(p["actor"].get("reference") == f"Location/{a}" for p in e["resource"]["participant"])
               for e in appts)
    # Its own site's booking is there.
    assert _ok(c.get(f"/api/v1/bookings/{world.booking_a}", headers=h))["site_id"] == a


def _actions(app: App, actor: str) -> list[str]:
    assert app.engine is not None
    with app.engine.connect() as conn:
        return [r.action for r in conn.execute(select(audit_log.c.action).where(audit_log.c.actor == actor)
                                               .order_by(audit_log.c.id))]


def test_break_glass_lifts_the_site_limit_and_widens_the_patient_view_until_stopped(world: World) -> None:
    c = world.admin
    h = auth_headers(world.app, "scheduler", subject="sched-bg", sites=[world.site_a])
    patient = f"/api/v1/patients/{world.patient_b}"
    assert c.get(f"/api/v1/bookings/{world.booking_b}", headers=h).status_code == 404
    assert "mrn" not in _ok(c.get(patient, headers=h))
    assert c.post("/api/v1/break-glass", json={"reason": ""}, headers=h).status_code == 422
    started = c.post("/api/v1/break-glass", json={"reason": "patient in the ED, chart needed", "minutes": 15},
                     headers=h)
    assert started.status_code == 201, started.text
    me = _ok(c.get("/api/v1/me", headers=h))
    assert me["break_glass"] and P.PATIENT_READ_CLINICAL in me["permissions"]
    assert _ok(c.get(f"/api/v1/bookings/{world.booking_b}", headers=h))["site_id"] == world.site_b
    assert _ok(c.get(patient, headers=h))["mrn"]
    assert c.get(f"/fhir/r4/Appointment/{to_fhir_id(world.booking_b)}", headers=h).status_code == 200
    ended = _ok(c.delete("/api/v1/break-glass", headers=h))["ended"]
    assert ended == [started.json()["id"]]
    assert c.get(f"/api/v1/bookings/{world.booking_b}", headers=h).status_code == 404
    assert "mrn" not in _ok(c.get(patient, headers=h))
    assert not _ok(c.get("/api/v1/me", headers=h))["break_glass"]
    actions = _actions(world.app, "sched-bg")
    assert actions.count("break_glass.start") == 1 and actions.count("break_glass.stop") == 1
    assert actions.index("break_glass.start") < actions.index("break_glass.stop")
    # A role without the break_glass permission cannot start one (and the denial is audited).
    viewer = auth_headers(world.app, "operations_viewer", subject="viewer-bg")
    assert c.post("/api/v1/break-glass", json={"reason": "curious"}, headers=viewer).status_code == 403
    assert "break_glass.start" not in _actions(world.app, "viewer-bg")


def test_scopes_narrow_what_a_token_may_do(world: World) -> None:
    c = world.admin
    h = auth_headers(world.app, "scheduler", subject="sched-scoped", scopes="user/Appointment.read")
    assert _ok(c.get("/api/v1/bookings", params={"limit": 1}, headers=h))["items"]
    appointment = _ok(c.get(f"/fhir/r4/Appointment/{to_fhir_id(world.booking_a)}", headers=h))
    assert appointment["resourceType"] == "Appointment"
    held = c.post("/api/v1/holds", json={"option": world.docs["option"]}, headers=h)
    assert held.status_code == 403, held.text
    assert held.headers["content-type"].startswith(PROBLEM)
    assert c.get(f"/api/v1/patients/{world.patient_b}", headers=h).status_code == 403
    nothing = auth_headers(world.app, "admin", subject="admin-unscoped", scopes="user/Unknown.read")
    assert c.get("/api/v1/sites", headers=nothing).status_code == 403


# --- tokens ------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_signed(claims: dict[str, Any], alg: str, key: bytes | None) -> str:
    """A JWT put together by hand (PyJWT refuses to make the hostile ones)."""
    head = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": "k1"}).encode())
    body = _b64(json.dumps(claims).encode())
    signing = f"{head}.{body}".encode()
    sig = "" if key is None else _b64(hmac.new(key, signing, hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def _claims(**change: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "careflow", "aud": "careflow", "sub": "mallory", "iat": now, "nbf": now,
            "exp": now + 600, "roles": ["admin"], "scope": "user/*.*", **change}


def _assert_401(resp: Response) -> None:
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    assert resp.headers["www-authenticate"].startswith("Bearer")


def test_bad_tokens_are_401_problems_with_www_authenticate(world: World) -> None:
    settings = world.app.settings
    secret = load_or_create_secret(settings)
    good = token_for(world.app, "admin")
    head, body, sig = good.split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    past = datetime.now(UTC) - timedelta(hours=2)
    bad = {
        "forged signature": f"{head}.{body}.{flipped}",
        "claims changed under the old signature":
            f"{head}.{_b64(json.dumps(_claims(sub='root')).encode())}.{sig}",
        "expired": TokenIssuer(secret, issuer="careflow", audience="careflow", minutes=5).issue(
            "u", ["admin"], now=past),
        "alg=none": _hand_signed(_claims(), "none", None),
        "wrong audience": TokenIssuer(secret, issuer="careflow", audience="other-api", minutes=5).issue(
            "u", ["admin"]),
        "wrong issuer": TokenIssuer(secret, issuer="evil", audience="careflow", minutes=5).issue(
            "u", ["admin"]),
        "unrelated secret": TokenIssuer(b"x" * 64, issuer="careflow", audience="careflow", minutes=5).issue(
            "u", ["admin"]),
        "unknown role only": _hand_signed(_claims(roles=["superuser"]), "HS256", secret),
        "no subject": _hand_signed({k: v for k, v in _claims().items() if k != "sub"}, "HS256", secret),
        "garbage": "not-a-jwt",
        "empty": "",
    }
    assert world.admin.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    before = _count(world.app, "unauthenticated")
    client = TestClient(world.api, raise_server_exceptions=False)
    for name, token in bad.items():
        for url in ("/api/v1/me", "/api/v1/bookings"):
            resp = client.get(url, headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 401, f"{name} on {url}: {resp.status_code} {resp.text[:200]}"
            _assert_401(resp)
    for header in ("Basic dXNlcjpwYXNzd29yZA==", f"Token {good}", good, "Bearer"):
        _assert_401(client.get("/api/v1/me", headers={"Authorization": header}))
    fhir = client.get("/fhir/r4/Patient", headers={"Authorization": f"Bearer {bad['alg=none']}"})
    assert fhir.status_code == 401 and fhir.json()["resourceType"] == "OperationOutcome"
    assert fhir.headers["www-authenticate"].startswith("Bearer")
    assert _count(world.app, "unauthenticated") - before == len(bad) * 2 + 4 + 1


class _Jwks(BaseHTTPRequestHandler):
    document: bytes = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.document)))
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    _Jwks.document = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", key
    server.shutdown()
    server.server_close()


def test_rs256_tokens_from_a_jwks(world: World, jwks_server: tuple[str, rsa.RSAPrivateKey]) -> None:
    url, key = jwks_server
    settings = world.app.settings.model_copy(update={"jwks_url": url, "jwt_issuer": "https://idp.example",
                                                     "jwt_audience": "careflow-api"})
    app = bootstrap(settings, clock=FixedClock(NOW))
    try:
        client = TestClient(create_app(app), raise_server_exceptions=False)
        claims = _claims(iss="https://idp.example", aud="careflow-api", sub="idp-user", roles=["scheduler"])
        good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"})
        assert me.status_code == 200, me.text
        assert me.json()["id"] == "idp-user" and me.json()["roles"] == ["scheduler"]
        listed = client.get("/api/v1/bookings?limit=1", headers={"Authorization": f"Bearer {good}"})
        assert listed.status_code == 200, listed.text
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
        refused = {
            "another key": jwt.encode(claims, other, algorithm="RS256", headers={"kid": "k1"}),
            "HS256 with the public key as secret": _hand_signed(claims, "HS256", public_pem),
            "alg=none": _hand_signed(claims, "none", None),
            "wrong audience": jwt.encode({**claims, "aud": "careflow"}, key, algorithm="RS256",
                                         headers={"kid": "k1"}),
            "local HS256 token": token_for(world.app, "admin"),
        }
        for name, token in refused.items():
            resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 401, f"{name}: {resp.status_code} {resp.text[:200]}"
            _assert_401(resp)
        # An identity provider issues the tokens: careflow does not.
        assert client.post("/api/v1/token", json={"username": "x", "password": "y"}).status_code in (401, 422)
    finally:
        app.dispose()


def test_a_disabled_user_s_tokens_stop_working(world: World) -> None:
    engine = world.app.engine
    assert engine is not None
    users.add_user(engine, "u-leaver", "pw-leaver-1", ["scheduler"])
    client = TestClient(world.api, raise_server_exceptions=False)
    token = _ok(client.post("/api/v1/token", json={"username": "u-leaver", "password": "pw-leaver-1"}))
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert users.set_active(engine, "u-leaver", False)
    world.api.state.security.forget("u-leaver")  # else within seconds, as the cache expires
    _assert_401(client.get("/api/v1/me", headers=headers))


def test_token_endpoint_issues_tokens_for_local_users(world: World) -> None:
    engine = world.app.engine
    assert engine is not None
    users.add_user(engine, "u1", "pw-123456", ["scheduler"])
    users.add_user(engine, "u2", "pw-654321", ["scheduler"])
    client = TestClient(world.api, raise_server_exceptions=False)
    issued = client.post("/api/v1/token", json={"username": "u1", "password": "pw-123456"})
    assert issued.status_code == 200, issued.text
    out = issued.json()
    assert set(out) == {"access_token", "token_type", "expires_in"}
    assert out["token_type"].lower() == "bearer" and out["expires_in"] > 0
    me = _ok(client.get("/api/v1/me", headers={"Authorization": f"Bearer {out['access_token']}"}))
    assert me["id"] == "u1" and me["roles"] == ["scheduler"]
    before = _count(world.app, "unauthenticated")
    _assert_401(client.post("/api/v1/token", json={"username": "u1", "password": "wrong-password"}))
    _assert_401(client.post("/api/v1/token", json={"username": "nobody", "password": "pw-123456"}))
    assert users.set_active(engine, "u2", False)
    _assert_401(client.post("/api/v1/token", json={"username": "u2", "password": "pw-654321"}))
    assert _count(world.app, "unauthenticated") - before == 3
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.outcome == "unauthenticated")
                            .order_by(audit_log.c.id.desc()).limit(3)).all()
    assert all(r.actor == "anonymous" and "/api/v1/token" in json.dumps(r.detail) for r in rows)
    assert not any("pw-" in json.dumps(r.detail) + r.reason for r in rows), "a password reached the audit"

