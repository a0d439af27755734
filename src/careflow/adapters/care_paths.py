"""Wiring the referral and imaging-readiness workflows: their store and policies from
settings, and the outbox handlers that start them (``ReferralReceived``,
``BookingConfirmed``; ``BookingRescheduled`` and ``BookingCancelled`` also wake the workflow
of the booking's old time)."""

from __future__ import annotations

from datetime import timedelta

from careflow.adapters.db.referral_store import referrals_of
from careflow.config import Settings
from careflow.domain.readiness import ReadinessPolicy
from careflow.domain.referrals import ReferralPolicy
from careflow.services.dispatch import HandlerRegistry
from careflow.services.workflows import care_paths, imaging, referral

__all__ = ["policies", "wire_care_paths"]


def policies(settings: Settings) -> tuple[ReferralPolicy, ReadinessPolicy]:
    """The referral and readiness policies the settings describe."""
    referrals = ReferralPolicy(auto_book=frozenset(settings.referral_auto_book_urgencies()),
                               choices=settings.referral_choices,
                               choice_timeout=timedelta(hours=settings.referral_choice_hours))
    readiness = ReadinessPolicy(tuple(timedelta(hours=h) for h in settings.readiness_reminder_offsets()),
                                timedelta(hours=settings.readiness_cutoff_hours))
    return referrals, readiness


def wire_care_paths(settings: Settings, registry: HandlerRegistry | None) -> care_paths.CarePathDeps:
    """Install the two workflows' dependencies and register the handlers that start them."""
    referral_policy, readiness_policy = policies(settings)
    wired = care_paths.CarePathDeps(referrals_of, referral_policy, readiness_policy)
    care_paths.configure(wired)
    if registry is not None:
        registry.register("ReferralReceived", "referral_workflow", referral.on_referral_received)
        registry.register("BookingConfirmed", "imaging_readiness", imaging.on_booking_confirmed)
        registry.register("BookingRescheduled", "imaging_readiness", imaging.on_booking_rescheduled)
        registry.register("BookingCancelled", "imaging_readiness", imaging.on_booking_cancelled)
    return wired
