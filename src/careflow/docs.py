"""Generates docs/violation-codes.md from the code catalogue (``make docs``)."""

from __future__ import annotations

from careflow.domain.violations import CODES


def violation_codes_markdown() -> str:
    """The catalogue of violation codes as a Markdown page."""
    lines = [
        "# Violation codes",
        "",
        "Every refusal names one or more of these codes. Hard violations always refuse; soft",
        "ones refuse unless an actor with the `booking.override` permission overrides them with",
        "a reason (recorded on the booking and in the audit trail). Codes are stable: clients",
        "may switch on them. `careflow codes` and `GET /api/v1/violation-codes` list the same.",
        "",
        "| code | severity | meaning | usual remedy |",
        "|---|---|---|---|",
    ]
    for code, info in CODES.items():
        lines.append(f"| `{code.value}` | {info.severity.value} | {info.meaning} | {info.remedy} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(violation_codes_markdown(), end="")
