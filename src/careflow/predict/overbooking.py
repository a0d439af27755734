"""Overbooking advice for one clinic session: how many patients to book beyond its capacity.

A session seats ``capacity`` patients; ``N`` are booked, patient i arriving with
probability a_i = 1 − p_i (p_i: the predictor's no-show probability). The ``F`` free
seats (capacity − N, when positive) are filled first; booking ``x`` overbooks on top,
every added patient arriving with the booked patients' mean arrival probability ā:

    S_x = PoissonBinomial(a_1 … a_N) + Binomial(F + x, ā)

The advice is the largest x with P(S_x > capacity) ≤ the policy's risk tolerance. The
policy then caps it: at most ``max_per_session`` overbooks in the session, those already
booked beyond its seats included, and none for a clinician who opted out. ``bound`` says
what decided the number: ``risk``, ``max_per_session``, ``opted_out``, ``no_bookings``, or
``predictor`` (the predictor declined to advise, e.g. too little history). The drivers are the booked
patients with the highest no-show probability, with the predictor's own reasons.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from careflow.domain.errors import InvalidRequest
from careflow.predict.ports import AppointmentFacts, NoShowPredictor

__all__ = ["MAX_PER_SESSION_LIMIT", "MODES", "BookedPatient", "OverbookingAdvice", "OverbookingPolicy",
           "Session", "advise", "overflow_probability", "score_patients"]

MODES = ("advisory", "executable")
MAX_PER_SESSION_LIMIT = 20
DRIVERS = 3


@dataclass(frozen=True, slots=True)
class OverbookingPolicy:
    """A site's overbooking policy (the ``predict.overbooking`` site setting)."""

    mode: str = "advisory"
    max_per_session: int = 2
    risk_tolerance: float = 0.1
    clinicians_opted_out: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidRequest(f"mode must be one of {', '.join(MODES)}", "mode")
        if not 0 <= self.max_per_session <= MAX_PER_SESSION_LIMIT:
            raise InvalidRequest(f"max_per_session must be between 0 and {MAX_PER_SESSION_LIMIT}",
                                 "max_per_session")
        if not 0.0 <= self.risk_tolerance <= 0.5:
            raise InvalidRequest("risk_tolerance must be between 0 and 0.5", "risk_tolerance")

    def to_value(self) -> dict[str, Any]:
        """The JSON value stored as the site setting."""
        return {"mode": self.mode, "max_per_session": self.max_per_session,
                "risk_tolerance": self.risk_tolerance,
                "clinicians_opted_out": sorted(self.clinicians_opted_out)}

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> OverbookingPolicy:
        """A policy from a stored or submitted value (``InvalidRequest`` naming a bad field)."""
        unknown = sorted(set(value) - {"mode", "max_per_session", "risk_tolerance", "clinicians_opted_out"})
        if unknown:
            raise InvalidRequest(f"unknown policy field {unknown[0]!r}", unknown[0])
        opted = value.get("clinicians_opted_out", [])
        if not isinstance(opted, list | tuple) or not all(isinstance(c, str) and c for c in opted):
            raise InvalidRequest("clinicians_opted_out must be a list of clinician ids",
                                 "clinicians_opted_out")
        mode, cap, tol = value.get("mode", "advisory"), value.get("max_per_session", 2), \
            value.get("risk_tolerance", 0.1)
        if not isinstance(mode, str):
            raise InvalidRequest("mode must be a string", "mode")
        if isinstance(cap, bool) or not isinstance(cap, int):
            raise InvalidRequest("max_per_session must be an integer", "max_per_session")
        if isinstance(tol, bool) or not isinstance(tol, int | float):
            raise InvalidRequest("risk_tolerance must be a number", "risk_tolerance")
        return cls(mode, cap, float(tol), frozenset(opted))


@dataclass(frozen=True, slots=True)
class Session:
    """A clinician's session at a site on a local day: [start, end) seating ``capacity`` patients."""

    clinician_id: str
    site_id: str
    day: str
    start: datetime
    end: datetime
    capacity: int

    @property
    def id(self) -> str:
        return f"{self.site_id}/{self.clinician_id}/{self.start.isoformat()}"


@dataclass(frozen=True, slots=True)
class BookedPatient:
    """A booked appointment in the session and its predicted no-show probability."""

    booking_id: str
    no_show: float
    reasons: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class OverbookingAdvice:
    """What to do for one session, and why."""

    id: str
    session: Session
    mode: str
    booked: int
    expected_no_shows: float
    recommended_by_risk: int  # overbooks the risk tolerance allows, before the caps
    extra: int  # overbooks advised after the caps
    overflow_risk: float  # P(more arrive than the session seats) with ``extra`` overbooks
    bound: str
    predictor: str
    drivers: tuple[BookedPatient, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def explanation(self) -> str:
        """One paragraph a scheduler can read: the number, the drivers, the cap that bound."""
        who = "; ".join(f"{d.booking_id} {d.no_show:.0%}" + (f" ({d.reasons[0][0]})" if d.reasons else "")
                        for d in self.drivers)
        caps = {"risk": "the risk tolerance", "max_per_session": "the site's maximum per session",
                "opted_out": "the clinician's opt-out", "no_bookings": "no bookings to predict from",
                "predictor": "the predictor declining to advise"}
        text = (f"{self.booked} booked of {self.session.capacity} seats, {self.expected_no_shows:.1f} "
                f"no-shows expected ({self.predictor}); advise {self.extra} overbook(s), overflow risk "
                f"{self.overflow_risk:.0%}; bound by {caps.get(self.bound, self.bound)}")
        notes = "".join(f"; {n}" for n in self.notes)
        return text + (f"; most likely no-shows: {who}" if who else "") + notes


def score_patients(predictor: NoShowPredictor, facts: Mapping[str, AppointmentFacts]) -> list[BookedPatient]:
    """Each booking's no-show probability; the predictor's reasons only for the ``DRIVERS``
    most likely no-shows (the ones an explanation names), which keeps a session cheap."""
    risks = {booking_id: predictor.probability(f) for booking_id, f in facts.items()}
    top = set(sorted(risks, key=lambda b: (-risks[b], b))[:DRIVERS])
    return [BookedPatient(b, round(p, 4), tuple((n, round(v, 4)) for n, v in predictor.explain(facts[b])[:3])
                          if b in top else ()) for b, p in sorted(risks.items())]


def _poisson_binomial(probabilities: Sequence[float]) -> list[float]:
    dist = [1.0]
    for p in probabilities:
        nxt = [0.0] * (len(dist) + 1)
        for n, w in enumerate(dist):
            nxt[n] += w * (1.0 - p)
            nxt[n + 1] += w * p
        dist = nxt
    return dist


def overflow_probability(arrivals: Sequence[float], capacity: int) -> float:
    """P(more than ``capacity`` of independent arrivals with these probabilities occur)."""
    dist = _poisson_binomial(arrivals)
    return max(0.0, min(1.0, sum(dist[capacity + 1:])))


def _advice_id(session: Session, booked: Sequence[BookedPatient], policy: OverbookingPolicy,
               predictor: str) -> str:
    key = repr((session.id, session.capacity, [(b.booking_id, round(b.no_show, 6)) for b in booked],
                policy.to_value(), predictor))
    return "ob_" + hashlib.sha256(key.encode()).hexdigest()[:16]


def advise(session: Session, booked: Sequence[BookedPatient], policy: OverbookingPolicy, predictor: str,
           declined: str | None = None) -> OverbookingAdvice:
    """The advice for one session; ``declined`` (a reason) when the predictor cannot advise."""
    booked = sorted(booked, key=lambda b: b.booking_id)
    advice_id = _advice_id(session, booked, policy, predictor)
    expected = round(sum(b.no_show for b in booked), 2)
    drivers = tuple(sorted(booked, key=lambda b: (-b.no_show, b.booking_id))[:DRIVERS])
    arrivals = [1.0 - b.no_show for b in booked]
    base = overflow_probability(arrivals, session.capacity)
    free = max(0, session.capacity - len(booked))  # free seats, filled first

    def made(by_risk: int, extra: int, bound: str, notes: tuple[str, ...] = ()) -> OverbookingAdvice:
        risk = base
        if arrivals:  # the free seats filled and ``extra`` added, by patients of the mean arrival
            mean_arrival = sum(arrivals) / len(arrivals)
            risk = overflow_probability(arrivals + [mean_arrival] * (free + extra), session.capacity)
        return OverbookingAdvice(advice_id, session, policy.mode, len(booked), expected, by_risk, extra,
                                 round(risk, 4), bound, predictor, drivers, notes)

    if declined is not None:
        return made(0, 0, "predictor", (declined,))
    if not booked:
        return made(0, 0, "no_bookings")
    mean_arrival = sum(arrivals) / len(arrivals)
    by_risk = 0
    while by_risk < MAX_PER_SESSION_LIMIT:
        trial = arrivals + [mean_arrival] * (free + by_risk + 1)
        if overflow_probability(trial, session.capacity) > policy.risk_tolerance:
            break
        by_risk += 1
    if session.clinician_id in policy.clinicians_opted_out:
        return made(by_risk, 0, "opted_out", ("the clinician opted out of overbooking",))
    room = max(0, policy.max_per_session - max(0, len(booked) - session.capacity))  # overbooks booked count
    if by_risk > room:
        return made(by_risk, room, "max_per_session")
    return made(by_risk, by_risk, "risk")
