"""Bad input found by fuzzing (schemathesis and by hand): never a 500, always a problem
naming the field, and nothing written."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import NOW
from tests.e2e.test_booking_api import booking_count, first_bookable

PROBLEM = "application/problem+json"
WRITES = ("/api/v1/bookings/check", "/api/v1/holds", "/api/v1/bookings")


def an_option(client: TestClient) -> dict[str, Any]:
    _, found = first_bookable(client)
    return copy.deepcopy(found["options"][0])


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    if field is not None:
        assert body.get("field") == field, body
    assert "Traceback" not in response.text
    return body


# --- instants --------------------------------------------------------------------------

FAR_INSTANTS = [
    ("0001-01-01T00:00:00Z", "0001-01-01T02:00:00Z"),
    ("0001-01-01T08:00:00+05:00", "0001-01-01T10:00:00+05:00"),
    ("9999-12-31T20:00:00Z", "9999-12-31T22:00:00Z"),
    ("9999-12-31T20:00:00-05:00", "9999-12-31T22:00:00-05:00"),
    ("1969-12-31T20:00:00Z", "1969-12-31T22:00:00Z"),
]


@pytest.mark.parametrize(("start", "end"), FAR_INSTANTS)
def test_an_option_in_year_1_or_9999_is_a_422_naming_start_and_writes_nothing(
        client: TestClient, start: str, end: str) -> None:
    option = {**an_option(client), "start": start, "end": end}
    before = booking_count(client)
    for route in WRITES:
        body = assert_problem(client.post(route, json={"option": option}), 422, "option.start")
        assert "between" in body["detail"]
    assert booking_count(client) == before


def test_an_allocation_in_year_9999_is_a_422_naming_it(client: TestClient) -> None:
    option = an_option(client)
    option["allocations"][0]["end"] = "9999-12-31T23:59:59Z"
    before = booking_count(client)
    assert_problem(client.post("/api/v1/bookings", json={"option": option}), 422, "option.allocations.0.end")
    assert booking_count(client) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"earliest": "0001-01-01T00:00:00Z", "latest": "0001-01-05T00:00:00Z"}, "earliest"),
        ({"earliest": "0001-01-01T00:00:00Z", "latest": None}, "earliest"),
        ({"earliest": "9999-12-20T00:00:00Z", "latest": "9999-12-31T00:00:00Z"}, "earliest"),
        ({"earliest": "9999-12-31T20:00:00-05:00", "latest": None}, "earliest"),
        ({"earliest": "2026-06-01T00:00:00Z", "latest": "9999-12-31T00:00:00Z"}, "latest"),
    ],
)
def test_a_find_window_in_year_1_or_9999_is_a_422_naming_the_field(
        client: TestClient, change: dict[str, Any], field: str) -> None:
    body, _ = first_bookable(client)
    request = {k: v for k, v in {**body, **change}.items() if v is not None}
    assert_problem(client.post("/api/v1/availability/find", json=request), 422, field)


def test_a_reschedule_to_year_1_is_a_422_and_the_booking_keeps_its_time(client: TestClient) -> None:
    option = an_option(client)
    booking = client.post("/api/v1/bookings", json={"option": option}).json()
    far = {**option, "start": "0001-01-01T00:00:00Z", "end": "0001-01-01T02:00:00Z"}
    response = client.post(f"/api/v1/bookings/{booking['id']}/reschedule",
                           json={"option": far, "reason": "x"})
    assert_problem(response, 422, "option.start")
    assert client.get(f"/api/v1/bookings/{booking['id']}").json()["start"] == booking["start"]


def test_a_number_is_not_taken_for_a_datetime(client: TestClient) -> None:
    body, _ = first_bookable(client)
    seconds = int(NOW.timestamp())
    response = client.post("/api/v1/availability/find",
                           json={**body, "earliest": seconds, "latest": seconds + 86400})
    problem = assert_problem(response, 422, "earliest")
    assert "string" in problem["detail"]


# --- wrong types -----------------------------------------------------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"within_days": True}, "within_days"),
    ({"within_days": "14"}, "within_days"),
    ({"limit": "10"}, "limit"),
    ({"limit": 2.0}, "limit"),
    ({"max_travel_km": "50"}, "max_travel_km"),
])
def test_find_refuses_strings_and_booleans_for_numbers(client: TestClient, change: dict[str, Any],
                                                       field: str) -> None:
    body, _ = first_bookable(client)
    assert_problem(client.post("/api/v1/availability/find", json={**body, **change}), 422, field)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_find_refuses_nan_and_infinity(client: TestClient, literal: str) -> None:
    body, _ = first_bookable(client)
    raw = json.dumps({**body, "max_travel_km": 1}).replace('"max_travel_km": 1',
                                                             f'"max_travel_km": {literal}')
    response = client.post("/api/v1/availability/find", content=raw.encode(),
                           headers={"content-type": "application/json"})
    assert_problem(response, 422, "max_travel_km")


def test_a_hold_refuses_a_string_for_its_minutes_and_writes_nothing(client: TestClient) -> None:
    option = an_option(client)
    before = booking_count(client)
    response = client.post("/api/v1/holds", json={"option": option, "hold_minutes": "5"})
    assert_problem(response, 422, "hold_minutes")
    option["allocations"][0]["lane"] = "0"
    assert_problem(client.post("/api/v1/holds", json={"option": option}), 422, "option.allocations.0.lane")
    assert booking_count(client) == before


# --- strings ---------------------------------------------------------------------------

NUL = "pat\x00-00001"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda o: o.update(patient_id=NUL), "option.patient_id"),
        (lambda o: o.update(site_id="site\x1bh1"), "option.site_id"),
        (lambda o: o["allocations"][0].update(resource_id="or\x00"), "option.allocations.0.resource_id"),
        (lambda o: o["allocations"][0].update(role="room\x00"), "option.allocations.0.role"),
    ],
)
def test_control_characters_in_an_option_are_a_422_and_write_nothing(
        client: TestClient, mutate: Callable[[dict[str, Any]], None], field: str) -> None:
    option = an_option(client)
    mutate(option)
    before = booking_count(client)
    for route in WRITES:
        body = assert_problem(client.post(route, json={"option": option}), 422, field)
        assert "control character" in body["detail"]
    assert booking_count(client) == before


def test_a_nul_in_a_reason_or_an_id_is_a_422_and_writes_nothing(client: TestClient) -> None:
    """PostgreSQL cannot store NUL in text: these were 500s there (and silently stored on SQLite)."""
    option = an_option(client)
    booking = client.post("/api/v1/bookings", json={"option": option}).json()
    before = booking_count(client)
    moved = client.post(f"/api/v1/bookings/{booking['id']}/reschedule",
                        json={"option": option, "reason": "a\x00b"})
    assert_problem(moved, 422, "reason")
    cancel = client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={"reason": "\x00"})
    assert_problem(cancel, 422, "reason")
    override = client.post("/api/v1/holds", json={"option": option, "override": {"reason": "ok\x00"}})
    assert_problem(override, 422, "override.reason")
    assert_problem(client.post("/api/v1/bookings", json={"hold_id": "bk\x00"}), 422, "hold_id")
    body, _ = first_bookable(client)
    find = "/api/v1/availability/find"
    assert_problem(client.post(find, json={**body, "patient_id": NUL}), 422, "patient_id")
    assert_problem(client.post(find, json={**body, "site_ids": ["site\x00"]}), 422, "site_ids.0")
    assert client.get(f"/api/v1/bookings/{booking['id']}").json()["status"] == "booked"
    assert booking_count(client) == before


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/bookings/bk%00x", "booking_id"),
        ("/api/v1/bookings?patient_id=pat%00", "patient_id"),
        ("/api/v1/bookings?site_id=%07", "site_id"),
        ("/api/v1/bookings?resource_id=or%00", "resource_id"),
        ("/api/v1/patients?search=a%00b", "search"),
        ("/api/v1/resources?site_id=site%00", "site_id"),
    ],
)
def test_control_characters_in_paths_and_queries_are_a_422(client: TestClient, url: str, field: str) -> None:
    assert_problem(client.get(url), 422, field)


def test_lifecycle_steps_refuse_a_nul_in_the_booking_id(client: TestClient) -> None:
    for step in ("arrive", "fulfil", "no-show"):
        assert_problem(client.post(f"/api/v1/bookings/bk%00/{step}"), 422, "booking_id")
    assert_problem(client.post("/api/v1/bookings/bk%00/cancel", json={"reason": "x"}), 422, "booking_id")


@pytest.mark.parametrize("key", ["site_ids", "preferred_clinician_ids"])
def test_a_huge_string_inside_a_find_list_is_a_422_not_echoed_back(client: TestClient, key: str) -> None:
    body, _ = first_bookable(client)
    response = client.post("/api/v1/availability/find", json={**body, key: ["s" * 100_000]})
    assert_problem(response, 422, f"{key}.0")
    assert len(response.text) < 2_000


@pytest.mark.parametrize("key", ["site_ids", "preferred_clinician_ids"])
def test_an_empty_id_inside_a_find_list_is_a_422(client: TestClient, key: str) -> None:
    body, _ = first_bookable(client)
    assert_problem(client.post("/api/v1/availability/find", json={**body, key: [""]}), 422, f"{key}.0")


# --- query parameters ------------------------------------------------------------------


@pytest.mark.parametrize("offset", [2**63, 10**30, 10_000_001])
def test_a_huge_offset_on_bookings_is_a_422_not_a_500(client: TestClient, offset: int) -> None:
    assert_problem(client.get("/api/v1/bookings", params={"offset": offset}), 422, "offset")


@pytest.mark.parametrize("key", ["patient_id", "site_id", "resource_id"])
def test_an_empty_booking_filter_is_a_422_rather_than_no_filter(client: TestClient, key: str) -> None:
    assert_problem(client.get("/api/v1/bookings", params={key: ""}), 422, key)


@pytest.mark.parametrize("key", ["patient_id", "site_id", "resource_id"])
def test_an_overlong_booking_filter_is_a_422(client: TestClient, key: str) -> None:
    assert_problem(client.get("/api/v1/bookings", params={key: "x" * 201}), 422, key)


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/v1/bookings", {"status": "bogus"}, "status"),
    ("/api/v1/bookings", {"limit": 0}, "limit"),
    ("/api/v1/resources", {"kind": "bogus"}, "kind"),
    ("/api/v1/resources", {"offset": -1}, "offset"),
    ("/api/v1/sites", {"offset": 10**30}, "offset"),
    ("/api/v1/patients", {"limit": 501}, "limit"),
])
def test_unusual_query_parameters_are_422_problems_naming_them(client: TestClient, path: str,
                                                               params: dict[str, Any], field: str) -> None:
    assert_problem(client.get(path, params=params), 422, field)


# --- bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b'{"reason": "\xff\xfe"}', "UTF-8"),
        (b'{"reason": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested"),
        (b'{"reason": ' + b"9" * 5_000 + b"}", "digits"),
    ],
)
def test_a_body_that_json_cannot_decode_is_a_malformed_json_422(client: TestClient, raw: bytes,
                                                                 detail: str) -> None:
    before = booking_count(client)
    for route in ("/api/v1/bookings", "/api/v1/holds", "/api/v1/bookings/check",
                  "/api/v1/availability/find", "/api/v1/bookings/bk_x/cancel"):
        response = client.post(route, content=raw, headers={"content-type": "application/json"})
        body = assert_problem(response, 422, "body")
        assert body["type"].endswith("/malformed-json")
        assert detail in body["detail"]
    assert booking_count(client) == before


def test_an_oversized_body_is_a_413_problem_and_writes_nothing(client: TestClient) -> None:
    option = an_option(client)
    before = booking_count(client)
    padded = {"option": {**option, "reasons": [{"factor": "x" * 1000, "value": 0, "points": 0,
                                                "detail": "d"} for _ in range(2_000)]}}
    response = client.post("/api/v1/bookings", json=padded)
    assert_problem(response, 413)
    assert booking_count(client) == before


@pytest.mark.parametrize("route", ["check", "cancel", "reschedule"])
def test_unknown_fields_are_refused_on_every_body(client: TestClient, route: str) -> None:
    option = an_option(client)
    booking = client.post("/api/v1/bookings", json={"option": an_option(client)}).json()
    before = booking_count(client)
    url, body = {
        "check": ("/api/v1/bookings/check", {"option": option, "bogus": 1}),
        "cancel": (f"/api/v1/bookings/{booking['id']}/cancel", {"reason": "x", "bogus": 1}),
        "reschedule": (f"/api/v1/bookings/{booking['id']}/reschedule",
                       {"option": option, "reason": "x", "override": {"reason": "y", "bogus": 1}}),
    }[route]
    response = client.post(url, json=body)
    assert "bogus" in assert_problem(response, 422)["field"]
    assert client.get(f"/api/v1/bookings/{booking['id']}").json()["status"] == "booked"
    assert booking_count(client) == before


def test_an_option_list_longer_than_any_find_returns_is_refused(client: TestClient) -> None:
    option = an_option(client)
    warning = {"code": "X", "severity": "soft", "subject": "s", "message": "m", "remedy": "r"}
    option["warnings"] = [warning] * 201
    assert_problem(client.post("/api/v1/bookings/check", json={"option": option}), 422, "option.warnings")


# --- mutated options: refused or explained, never a 500 --------------------------------


def _swap_roles(o: dict[str, Any]) -> None:
    a, b = o["allocations"][0], o["allocations"][1]
    a["role"], b["role"] = b["role"], a["role"]


MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "swapped roles": _swap_roles,
    "unknown resource": lambda o: o["allocations"][0].update(resource_id="room-nope"),
    "unknown role": lambda o: o["allocations"][0].update(role="juggler"),
    "unknown site": lambda o: o.update(site_id="site-nope"),
    "unknown service": lambda o: o.update(service_id="svc-nope"),
    "unknown patient": lambda o: o.update(patient_id="pat-nope"),
    "a lane of 2**63": lambda o: o["allocations"][0].update(lane=2**63),
    "a lane beyond any pool": lambda o: o["allocations"][0].update(lane=100_001),
    "a negative lane": lambda o: o["allocations"][0].update(lane=-1),
    "start equal to end": lambda o: o.update(end=o["start"]),
    "an allocation ending at its start": lambda o: o["allocations"][0].update(
        end=o["allocations"][0]["start"]),
    "no allocations": lambda o: o.update(allocations=[]),
    "every allocation twice": lambda o: o.update(allocations=o["allocations"] * 2),
    "a zero quantity": lambda o: o.update(items=[{"sku": "x", "quantity": 0}]),
    "a negative quantity": lambda o: o.update(items=[{"sku": "x", "quantity": -3}]),
    "a start in 2020": lambda o: o.update(start="2020-06-02T13:00:00Z", end="2020-06-02T15:00:00Z"),
    "a null site": lambda o: o.update(site_id=None),
    "a bogus urgency": lambda o: o.update(urgency="bogus"),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_a_mutated_option_is_refused_or_explained_and_never_written(client: TestClient, name: str) -> None:
    option = an_option(client)
    MUTATIONS[name](option)
    before = booking_count(client)
    checked = client.post("/api/v1/bookings/check", json={"option": option})
    assert checked.status_code in (200, 404, 422), checked.text
    if checked.status_code == 200:
        assert checked.json()["ok"] is False, "a mutated option must not check clean"
    else:
        assert_problem(checked, checked.status_code)
    for route in ("/api/v1/holds", "/api/v1/bookings"):
        response = client.post(route, json={"option": option})
        assert response.status_code in (404, 409, 422), response.text
        assert_problem(response, response.status_code)
    assert booking_count(client) == before


# --- the HTTP surface ------------------------------------------------------------------


def test_a_wrong_method_is_a_405_that_says_which_methods_are_allowed(client: TestClient) -> None:
    response = client.request("TRACE", "/api/v1/bookings")
    assert_problem(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert client.delete("/api/v1/holds").headers["allow"] == "POST"


def test_every_error_response_is_documented_as_problem_json_or_fhir_operation_outcome(
        client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        fhir = path.startswith("/fhir/")
        kind, ref = (("application/fhir+json", "#/components/schemas/OperationOutcome") if fhir
                     else (PROBLEM, "#/components/schemas/Problem"))
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if code[0] in "45"}
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in errors, f"{method} {path} does not document its 422"
            for code, response in errors.items():
                assert list(response["content"]) == [kind], f"{method} {path} {code}"
                assert response["content"][kind]["schema"] == {"$ref": ref}
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_a_request_id_is_echoed_only_when_it_looks_like_one(client: TestClient) -> None:
    assert client.get("/health", headers={"x-request-id": "abc-123.x"}).headers["x-request-id"] == "abc-123.x"
    for hostile in (b"a" * 5_000, "caf\u00e9".encode(), b"id with spaces", b"tab\there"):
        echoed = client.get("/health", headers={"x-request-id": hostile}).headers["x-request-id"]
        assert echoed.encode() != hostile
        assert len(echoed) == 32


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda o: o.update(end=o["start"]), "option.end"),
        (lambda o: o.update(start=o["end"], end=o["start"]), "option.end"),
        (lambda o: o["allocations"][1].update(end=o["allocations"][1]["start"]), "option.allocations.1.end"),
    ],
)
def test_an_end_not_after_its_start_names_that_end(
        client: TestClient, mutate: Callable[[dict[str, Any]], None], field: str) -> None:
    option = an_option(client)
    mutate(option)
    body = assert_problem(client.post("/api/v1/bookings/check", json={"option": option}), 422, field)
    assert body["detail"] == f"{field}: must be after start"


def test_giving_both_a_hold_and_an_option_says_so_plainly(client: TestClient) -> None:
    both = {"option": an_option(client), "hold_id": "bk_x"}
    body = assert_problem(client.post("/api/v1/bookings", json=both), 422, "body")
    assert body["detail"] == "body: give exactly one of hold_id or option"


@pytest.mark.parametrize("route", [*WRITES, "reschedule"])
def test_a_role_not_on_the_card_names_the_options_allocations(client: TestClient, route: str) -> None:
    option = an_option(client)
    booking = client.post("/api/v1/bookings", json={"option": option}).json()
    option["allocations"][0]["role"] = "juggler"
    before = booking_count(client)
    body: dict[str, Any] = {"option": option}
    if route == "reschedule":
        route, body["reason"] = f"/api/v1/bookings/{booking['id']}/reschedule", "x"
    response = client.post(route, json=body)
    problem = assert_problem(response, 422, "option.allocations")
    assert "juggler" in problem["detail"]
    assert booking_count(client) == before


def test_a_query_parameter_without_a_name_is_refused(client: TestClient) -> None:
    """Found by schemathesis: ``?=`` and ``?limit=1&=null`` were answered 200 as if no filter
    had been asked for."""
    for url in ("/api/v1/exceptions?=", "/api/v1/bookings?limit=1&=null"):
        answer = client.get(url)
        assert answer.status_code == 422, (url, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["field"] == "query"
    assert client.get("/api/v1/exceptions?status=open").status_code == 200
