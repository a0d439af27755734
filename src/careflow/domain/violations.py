"""Violations: why a booking cannot (hard) or should not (soft) proceed.

Each code is stable: clients switch on it. Hard violations always refuse; soft ones
refuse unless an actor with the ``booking.override`` permission overrides them with a
reason. ``CODES`` is the catalogue the documentation is generated from.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CODES", "CodeInfo", "Severity", "Violation", "ViolationCode", "hard", "soft"]


class Severity(enum.StrEnum):
    HARD = "hard"
    SOFT = "soft"


class ViolationCode(enum.StrEnum):
    RESOURCE_BOOKED = "RESOURCE_BOOKED"
    RESOURCE_UNAVAILABLE = "RESOURCE_UNAVAILABLE"
    RESOURCE_WRONG_SITE = "RESOURCE_WRONG_SITE"
    REQUIREMENT_UNFILLED = "REQUIREMENT_UNFILLED"
    CLINICIAN_NOT_PRIVILEGED = "CLINICIAN_NOT_PRIVILEGED"
    CLINICIAN_CREDENTIAL_EXPIRED = "CLINICIAN_CREDENTIAL_EXPIRED"
    CLINICIAN_HOURS_EXCEEDED = "CLINICIAN_HOURS_EXCEEDED"
    CLINICIAN_OVERTIME_NEEDS_APPROVAL = "CLINICIAN_OVERTIME_NEEDS_APPROVAL"
    ROOM_UNSUITABLE = "ROOM_UNSUITABLE"
    EQUIPMENT_IN_MAINTENANCE = "EQUIPMENT_IN_MAINTENANCE"
    EQUIPMENT_NOT_STERILE = "EQUIPMENT_NOT_STERILE"
    STOCK_INSUFFICIENT = "STOCK_INSUFFICIENT"
    STOCK_BELOW_THRESHOLD = "STOCK_BELOW_THRESHOLD"
    AUTHORIZATION_MISSING = "AUTHORIZATION_MISSING"
    AUTHORIZATION_PENDING = "AUTHORIZATION_PENDING"
    AUTHORIZATION_DENIED = "AUTHORIZATION_DENIED"
    AUTHORIZATION_EXPIRED = "AUTHORIZATION_EXPIRED"
    PREP_INCOMPLETE = "PREP_INCOMPLETE"
    INTERPRETER_UNAVAILABLE = "INTERPRETER_UNAVAILABLE"
    STAFF_COVERAGE_SHORT = "STAFF_COVERAGE_SHORT"
    BED_UNAVAILABLE = "BED_UNAVAILABLE"
    PATIENT_DOUBLE_BOOKED = "PATIENT_DOUBLE_BOOKED"
    OUTSIDE_BOOKING_WINDOW = "OUTSIDE_BOOKING_WINDOW"
    CAPACITY_EXCEEDED = "CAPACITY_EXCEEDED"
    HOLD_EXPIRED = "HOLD_EXPIRED"
    SERVICE_NOT_OFFERED = "SERVICE_NOT_OFFERED"
    PATIENT_HOLD_LIMIT = "PATIENT_HOLD_LIMIT"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    severity: Severity
    meaning: str
    remedy: str


CODES: dict[ViolationCode, CodeInfo] = {
    ViolationCode.RESOURCE_BOOKED: CodeInfo(
        Severity.HARD, "The resource already holds a booking (or an active hold) that overlaps.",
        "Pick another time or an equivalent resource; `find` lists times when all are free."),
    ViolationCode.RESOURCE_UNAVAILABLE: CodeInfo(
        Severity.HARD, "The resource is not scheduled to work then (outside its template, "
        "on vacation, called out, or the site is closed).",
        "Pick a time inside the resource's template or another resource."),
    ViolationCode.RESOURCE_WRONG_SITE: CodeInfo(
        Severity.HARD, "A resource belongs to (or works that day at) another site than the case.",
        "Use resources of the case's site; mobile equipment moves only between rooms of its site."),
    ViolationCode.REQUIREMENT_UNFILLED: CodeInfo(
        Severity.HARD, "A role on the preference card has no (or too few) resources assigned.",
        "Assign a resource for every role, or use `find` to get a complete option."),
    ViolationCode.CLINICIAN_NOT_PRIVILEGED: CodeInfo(
        Severity.HARD, "The clinician lacks the profession, specialty or procedure privilege required.",
        "Assign a clinician privileged for the procedure."),
    ViolationCode.CLINICIAN_CREDENTIAL_EXPIRED: CodeInfo(
        Severity.HARD, "A required credential (license, certification) is missing or expires "
        "before the case.", "Renew the credential in the credentialing system or assign another clinician."),
    ViolationCode.CLINICIAN_HOURS_EXCEEDED: CodeInfo(
        Severity.HARD, "The case would take the clinician past the contract's daily or weekly maximum.",
        "Assign another clinician or move the case to another day or week."),
    ViolationCode.CLINICIAN_OVERTIME_NEEDS_APPROVAL: CodeInfo(
        Severity.SOFT, "The case puts the clinician's week past the overtime threshold.",
        "Get approval and override with a reason, or assign another clinician."),
    ViolationCode.ROOM_UNSUITABLE: CodeInfo(
        Severity.HARD, "The room's type or capabilities do not match the preference card, or it "
        "lacks fixed equipment the case uses.", "Pick a room of the required type with the capabilities."),
    ViolationCode.EQUIPMENT_IN_MAINTENANCE: CodeInfo(
        Severity.HARD, "The equipment has a maintenance window overlapping the case.",
        "Use another unit of the same type or move the case."),
    ViolationCode.EQUIPMENT_NOT_STERILE: CodeInfo(
        Severity.HARD, "The equipment will still be in sterilization (reprocessing after its "
        "previous use, or in the cycle now) at the case's start.",
        "Start later, after its ready time, or use another unit."),
    ViolationCode.STOCK_INSUFFICIENT: CodeInfo(
        Severity.HARD, "Not enough unreserved implants or supplies at the site.",
        "Transfer stock from another site, wait for the reorder, or book at a site that has it."),
    ViolationCode.STOCK_BELOW_THRESHOLD: CodeInfo(
        Severity.SOFT, "The reservation takes the site's available stock below its reorder threshold.",
        "Confirm a reorder is under way and override with a reason."),
    ViolationCode.AUTHORIZATION_MISSING: CodeInfo(
        Severity.HARD, "The service needs a payer authorization and none is on file.",
        "Request the authorization from the payer."),
    ViolationCode.AUTHORIZATION_PENDING: CodeInfo(
        Severity.HARD, "The payer has not decided the authorization yet.",
        "Wait for the payer's decision, or hold the slot while it is pending."),
    ViolationCode.AUTHORIZATION_DENIED: CodeInfo(
        Severity.HARD, "The payer denied the authorization.",
        "Appeal the denial or discuss self-pay with the patient."),
    ViolationCode.AUTHORIZATION_EXPIRED: CodeInfo(
        Severity.HARD, "The approved authorization is not valid on the case's date.",
        "Book inside the validity window or request an extension."),
    ViolationCode.PREP_INCOMPLETE: CodeInfo(
        Severity.HARD, "A readiness item (clearance, labs, consent) is not complete and its due "
        "date has passed.", "Complete the item, or move the case later."),
    ViolationCode.INTERPRETER_UNAVAILABLE: CodeInfo(
        Severity.HARD, "The patient needs an interpreter in their language and none is free then.",
        "Pick a time when an interpreter is on duty, or arrange a remote interpreter."),
    ViolationCode.STAFF_COVERAGE_SHORT: CodeInfo(
        Severity.HARD, "A staff pool has fewer people on duty and unassigned than the case needs.",
        "Pick another time, or add a shift to the pool."),
    ViolationCode.BED_UNAVAILABLE: CodeInfo(
        Severity.HARD, "No suitable post-procedure bed is free for the expected length of stay.",
        "Pick another day, another bed, or a site with beds free."),
    ViolationCode.PATIENT_DOUBLE_BOOKED: CodeInfo(
        Severity.HARD, "The patient already has a booking that overlaps.",
        "Pick another time or reschedule the other booking."),
    ViolationCode.OUTSIDE_BOOKING_WINDOW: CodeInfo(
        Severity.HARD, "The start is in the past, sooner than the minimum lead time, or further "
        "ahead than the service may be booked.", "Pick a start inside the service's booking window."),
    ViolationCode.CAPACITY_EXCEEDED: CodeInfo(
        Severity.HARD, "A shared resource (capacity above one) would exceed its capacity.",
        "Pick another time or another resource."),
    ViolationCode.HOLD_EXPIRED: CodeInfo(
        Severity.HARD, "The hold expired before it was booked; its resources were released.",
        "Find again and place a new hold."),
    ViolationCode.SERVICE_NOT_OFFERED: CodeInfo(
        Severity.HARD, "The site does not offer the service (wrong site kind, or it is inactive).",
        "Book at a site that offers it."),
    ViolationCode.PATIENT_HOLD_LIMIT: CodeInfo(
        Severity.HARD, "The patient already has as many open (unexpired) holds as one patient may "
        "have at once.", "Book or cancel one of the patient's holds, or let one expire, then hold again."),
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason a booking fails: code, severity, subject (resource or prerequisite), message, remedy."""

    code: ViolationCode
    severity: Severity
    subject: str
    message: str
    remedy: str
    role: str | None = None

    @property
    def is_hard(self) -> bool:
        return self.severity is Severity.HARD


def _make(code: ViolationCode, subject: str, message: str, role: str | None) -> Violation:
    info = CODES[code]
    return Violation(code, info.severity, subject, message, info.remedy, role)


def hard(code: ViolationCode, subject: str, message: str, role: str | None = None) -> Violation:
    """A violation of a hard code (asserted, so a soft code is never issued as hard)."""
    assert CODES[code].severity is Severity.HARD, code
    return _make(code, subject, message, role)


def soft(code: ViolationCode, subject: str, message: str, role: str | None = None) -> Violation:
    """A violation of a soft code."""
    assert CODES[code].severity is Severity.SOFT, code
    return _make(code, subject, message, role)
