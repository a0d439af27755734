"""The OpenAPI document as careflow answers, not as FastAPI guesses.

- Every error is ``application/problem+json`` with a ``Problem`` on ``/api/v1`` and an
  ``application/fhir+json`` OperationOutcome on ``/fhir/r4`` (FastAPI would say
  ``application/json``, and 422 with its own ``HTTPValidationError``, which careflow never
  sends).
- Every operation but the public ones needs a bearer token and may answer 401 and 403.
- Every operation may answer 429 (rate limits) and, with a body, 413.
- FHIR bodies are FHIR resources (objects), NDJSON files are text.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PUBLIC_PATHS", "document"]

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
OUTCOME_REF = {"$ref": "#/components/schemas/OperationOutcome"}
VALIDATION = {"description": "malformed input; `field` names it"}
# No token needed: liveness, the token endpoint, FHIR's capability statement and the
# SMART Scheduling Links feed (public by design: it lists bookable slots, no patient data).
PUBLIC_PATHS = frozenset({"/health", "/api/v1/token", "/fhir/r4/metadata", "/fhir/r4/$bulk-publish",
                          "/fhir/r4/$bulk-publish/{kind}.ndjson"})
FHIR = "/fhir/"
OPERATION_OUTCOME = {
    "type": "object", "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["severity", "code"],
            "properties": {"severity": {"type": "string"}, "code": {"type": "string"},
                           "diagnostics": {"type": "string"}, "expression": {"type": "array"},
                           "details": {"type": "object"}}}},
    },
    "description": "FHIR R4 OperationOutcome: what went wrong, in `issue`",
}


def _fhir_success(path: str, response: dict[str, Any]) -> None:
    if path.endswith(".ndjson"):
        response["content"] = {"application/fhir+ndjson": {"schema": {"type": "string"}}}
    elif path.endswith("$bulk-publish"):
        response["content"] = {"application/fhir+json": {"schema": {
            "type": "object", "required": ["transactionTime", "request", "output"],
            "description": "a SMART Scheduling Links manifest"}}}
    else:
        response["content"] = {"application/fhir+json": {"schema": {
            "type": "object", "required": ["resourceType"], "description": "a FHIR R4 resource"}}}


def document(schema: dict[str, Any], max_body_bytes: int) -> dict[str, Any]:
    """``schema`` with security, error and FHIR responses described as careflow sends them."""
    for path, operations in schema.get("paths", {}).items():
        fhir = path.startswith(FHIR)
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if path not in PUBLIC_PATHS:
                operation["security"] = [{"bearerAuth": []}]
                responses.setdefault("401", {"description": "no valid bearer token"})
                responses.setdefault("403", {"description": "the token's roles, scopes or sites do not "
                                                            "allow this"})
            responses.setdefault("429", {"description": "too many requests from this client; "
                                                        "see Retry-After"})
            if (operation.get("parameters") or operation.get("requestBody")) and "422" not in responses:
                responses["422"] = dict(VALIDATION)
            if "{" in path:
                responses.setdefault("404", {"description": "no such id"})
            if fhir:  # FHIR searches take open-ended parameters; operations may conflict
                responses.setdefault("422", {"description": "a parameter careflow does not know or "
                                                            "cannot read; the OperationOutcome names it"})
                if operation.get("requestBody"):
                    responses.setdefault("400", {"description": "the body is not JSON"})
                    responses.setdefault("409", {"description": "a dependency fails or a race was lost"})
            if operation.get("requestBody"):
                responses.setdefault("413", {"description": f"the body is over {max_body_bytes} bytes"})
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = ({"application/fhir+json": {"schema": OUTCOME_REF}} if fhir
                                           else {"application/problem+json": {"schema": PROBLEM_REF}})
                elif fhir and code[0] == "2":
                    _fhir_success(path, response)
    components = schema.setdefault("components", {})
    components["securitySchemes"] = {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                       "description": "POST /api/v1/token, or a token from the identity provider"}}
    schemas = components.setdefault("schemas", {})
    schemas["OperationOutcome"] = OPERATION_OUTCOME
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema
