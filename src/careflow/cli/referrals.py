"""`careflow referrals list|show`: referrals and their recommendations from a terminal."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from careflow.adapters.db.referral_store import referrals_of
from careflow.cli.common import AsJson, Db, console, emit, fail, opened, run
from careflow.domain.access import Actor
from careflow.domain.referrals import Referral, ReferralStatus
from careflow.services import referrals as use
from careflow.services.referrals import ReferralDeps

__all__ = ["referrals_app"]

referrals_app = typer.Typer(no_args_is_help=True, help="Referrals: list, show (with the triage reasons).")
CLI = Actor("cli", frozenset({"admin"}))
STATUSES = tuple(s.value for s in ReferralStatus)


def _doc(r: Referral) -> dict[str, Any]:
    def iso(value: Any) -> Any:
        return value.isoformat() if value is not None else None

    return {"id": r.id, "patient_id": r.patient_id, "service_id": r.service_id, "urgency": r.urgency,
            "status": r.status.value, "decision": r.decision, "earliest": iso(r.earliest),
            "latest": iso(r.latest), "site_ids": list(r.site_ids), "referring": r.referring,
            "source": r.source, "reference": r.reference, "recommendations": r.recommendations,
            "choice_due_at": iso(r.choice_due_at), "chosen_rank": r.chosen_rank, "chosen_by": r.chosen_by,
            "booking_id": r.booking_id, "exception_id": r.exception_id, "note": r.note,
            "created_at": iso(r.created_at), "updated_at": iso(r.updated_at)}


def _table(items: list[Referral], title: str) -> None:
    table = Table(title=title)
    for column in ("id", "patient", "service", "urgency", "status", "booking", "created"):
        table.add_column(column)
    for r in items:
        table.add_row(r.id, r.patient_id, r.service_id, r.urgency, r.status.value, r.booking_id or "",
                      r.created_at.isoformat(timespec="minutes"))
    console.print(table)


@referrals_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status", help=", ".join(STATUSES))] = None,
    patient: Annotated[str | None, typer.Option("--patient", help="a patient id")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """List referrals, newest first."""
    if status is not None and status not in STATUSES:
        fail(f"--status: must be one of {', '.join(STATUSES)} (got {status!r})")
    with opened(db) as app:
        deps = ReferralDeps(app.deps, referrals_of)
        items, total = run(lambda: use.list_referrals(status, patient, CLI, deps, 0, limit))
    if as_json:
        emit({"items": [_doc(r) for r in items], "total": total})
    else:
        _table(items, f"{total} referral(s)")


@referrals_app.command()
def show(referral_id: str = typer.Argument(...), db: Db = None, as_json: AsJson = False) -> None:
    """Show one referral: its status, the ranked sites and why each ranks where it does."""
    with opened(db) as app:
        referral = run(lambda: use.get(referral_id, CLI, ReferralDeps(app.deps, referrals_of)))
    if as_json:
        emit(_doc(referral))
        return
    _table([referral], referral.note or referral.id)
    for rec in referral.recommendations:
        console.print(f"{rec['rank']}. site {rec['site_id']} at {rec['start']} (score {rec['score']})",
                      highlight=False)
        for reason in rec["reasons"]:
            console.print(f"   {reason['factor']}: {reason['detail']} (+{reason['points']})", highlight=False)
