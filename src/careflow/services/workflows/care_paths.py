"""What the referral and imaging-readiness workflows need beyond ``runtime.deps()``.

``runtime.deps()`` holds the booking dependencies and the notifier; these two workflows
also read their referral store and their policies, installed here
by the composition root (tests install their own, with short timings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from careflow.domain.readiness import DEFAULT_READINESS_POLICY, ReadinessPolicy
from careflow.domain.referrals import DEFAULT_REFERRAL_POLICY, ReferralPolicy
from careflow.services.ports import UnitOfWork
from careflow.services.referrals import ReferralDeps, ReferralStore
from careflow.services.workflows import runtime

__all__ = ["CarePathDeps", "configure", "paths", "referral_deps"]


@dataclass(frozen=True)
class CarePathDeps:
    referrals_of: Callable[[UnitOfWork], ReferralStore]
    referral_policy: ReferralPolicy = DEFAULT_REFERRAL_POLICY
    readiness_policy: ReadinessPolicy = DEFAULT_READINESS_POLICY


_current: CarePathDeps | None = None


def configure(care_path_deps: CarePathDeps) -> None:
    global _current
    _current = care_path_deps


def paths() -> CarePathDeps:
    if _current is None:
        raise RuntimeError("care paths are not configured: call care_paths.configure() at start-up")
    return _current


def referral_deps() -> ReferralDeps:
    p = paths()
    return ReferralDeps(runtime.deps().booking, p.referrals_of, p.referral_policy)
