"""Case duration: P50 and P80 per procedure × surgeon, shrunk toward the procedure.

The model reads completed cases (``CaseRecord``: procedure, surgeon, minutes) and answers,
for a (procedure, surgeon), quantiles of a mixture of three distributions, each shrunk
toward the one above it with empirical-Bayes (Bühlmann) credibility weights:

    card       the preference card's duration, a point mass (what careflow books today)
    procedure  F_p = Z_p · ECDF(procedure's cases) + (1 − Z_p) · card,   Z_p = N / (N + k)
    surgeon    F_s = Z_s · ECDF(surgeon's cases)   + (1 − Z_s) · F_p,     Z_s = n / (n + k)

``n`` is the surgeon's cases of the procedure, ``N`` all surgeons' cases of it. ``k`` is
the number of pseudo-cases the prior is worth: Bühlmann's k = σ²_within / τ²_between on
log minutes (the within-surgeon variance over the variance of the surgeons' true means,
by Bühlmann–Straub's method of moments, each surgeon weighted by their cases), estimated
per procedure and clipped to [K_MIN, K_MAX]; ``DEFAULT_K`` when it cannot be estimated
(fewer than two surgeons, or none with two cases). A surgeon with few cases so lands
near the procedure, one with many near their own cases. P50 and P80 are the mixture's
0.5 and 0.8 quantiles (the smallest minute value whose cumulative weight reaches q), so
P80 ≥ P50 always.

``suggested_minutes`` (what to book) is P80 rounded up to whole ``ROUND_MINUTES``: a
booking sized at P80 overruns one case in five.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from heapq import merge
from itertools import accumulate

from careflow.domain.preference_cards import Service

__all__ = ["DEFAULT_K", "CaseRecord", "DurationEstimate", "DurationModel", "weighted_quantile"]

DEFAULT_K = 10.0
K_MIN, K_MAX = 1.0, 100.0
MODEL_NAME = "duration-eb-1"
ROUND_MINUTES = 5

Weighted = Sequence[tuple[float, float]]  # (minutes, weight), sorted by minutes


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """One completed case: its procedure (service id), surgeon (resource id) and length."""

    service_id: str
    surgeon_id: str
    minutes: float
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DurationEstimate:
    """P50 / P80 minutes of a (procedure, surgeon) with the evidence behind them."""

    service_id: str
    surgeon_id: str | None
    p50: float
    p80: float
    card_minutes: int
    suggested_minutes: int
    surgeon_cases: int
    procedure_cases: int
    surgeon_weight: float  # Z_s: how much the surgeon's own cases count (0 without a surgeon)
    procedure_weight: float  # Z_p: how much the procedure's cases count against the card
    k: float
    basis: str  # "surgeon", "procedure" or "card": what most of the weight rests on
    version: str

    @property
    def spread(self) -> float:
        """P80 − P50 in minutes: how much longer a slow case runs than a typical one."""
        return self.p80 - self.p50

    def explanation(self) -> str:
        """One sentence a scheduler can read."""
        who = f"surgeon {self.surgeon_id}" if self.surgeon_id else "any surgeon"
        return (f"{self.service_id} by {who}: P50 {self.p50:g} min, P80 {self.p80:g} min "
                f"(spread {self.spread:g}) from {self.surgeon_cases} of the surgeon's and "
                f"{self.procedure_cases} of the procedure's cases, surgeon weight {self.surgeon_weight:.2f}; "
                f"the card books {self.card_minutes} min, book {self.suggested_minutes} min")


def weighted_quantile(points: Weighted, q: float) -> float:
    """The smallest value whose cumulative weight reaches ``q`` of the total."""
    if not points:
        raise ValueError("no points")
    total = sum(w for _, w in points)
    cumulative = list(accumulate(w for _, w in points))
    k = bisect_left(cumulative, q * total - 1e-12)
    return points[min(k, len(points) - 1)][0]


def _mix(a: Weighted, wa: float, b: Weighted, wb: float) -> list[tuple[float, float]]:
    """``wa`` of distribution ``a`` and ``wb`` of ``b`` (each sorted, normalized first), sorted."""
    ta, tb = sum(w for _, w in a) or 1.0, sum(w for _, w in b) or 1.0
    return list(merge([(x, w * wa / ta) for x, w in a] if wa > 0 else [],
                      [(x, w * wb / tb) for x, w in b] if wb > 0 else []))


def buhlmann_k(groups: Iterable[Sequence[float]]) -> float | None:
    """Bühlmann–Straub k = σ²_within / τ²_between on log minutes, each surgeon weighted by
    their cases; None when it cannot be estimated (fewer than two surgeons, or no surgeon
    with two cases). τ² ≤ 0 (no visible difference between surgeons) gives K_MAX."""
    logs = [[math.log(max(x, 1e-6)) for x in g] for g in groups if g]
    dof = sum(len(g) - 1 for g in logs)
    if len(logs) < 2 or dof == 0:
        return None
    means = [sum(g) / len(g) for g in logs]
    within = sum((x - m) ** 2 for g, m in zip(logs, means, strict=True) for x in g) / dof
    sizes = [len(g) for g in logs]
    total = sum(sizes)
    grand = sum(n * m for n, m in zip(sizes, means, strict=True)) / total
    spread = sum(n * (m - grand) ** 2 for n, m in zip(sizes, means, strict=True))
    between = (spread - (len(logs) - 1) * within) / (total - sum(n * n for n in sizes) / total)
    if between <= 0:
        return K_MAX
    return min(K_MAX, max(K_MIN, within / between))


@dataclass
class DurationModel:
    """Duration quantiles from completed cases, shrunk surgeon → procedure → card."""

    records: tuple[CaseRecord, ...]
    default_k: float = DEFAULT_K
    version: str = ""
    _by_pair: dict[tuple[str, str], list[float]] = field(default_factory=dict, repr=False)
    _by_service: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _k: dict[str, float] = field(default_factory=dict, repr=False)
    _cache: dict[tuple[str, str | None], DurationEstimate] = field(default_factory=dict, repr=False)
    _procedures: dict[tuple[str, int], tuple[list[tuple[float, float]], int, float]] = field(
        default_factory=dict, repr=False)

    @classmethod
    def fit(cls, records: Iterable[CaseRecord], default_k: float = DEFAULT_K) -> DurationModel:
        """Index the cases (positive minutes only) and estimate k per procedure."""
        kept = tuple(sorted((r for r in records if r.minutes > 0 and math.isfinite(r.minutes)),
                            key=lambda r: (r.service_id, r.surgeon_id, r.minutes)))
        digest = hashlib.sha256(repr((default_k, [(r.service_id, r.surgeon_id, round(r.minutes, 3))
                                                  for r in kept])).encode()).hexdigest()[:12]
        model = cls(kept, default_k, f"{MODEL_NAME}:{digest}")
        for r in kept:
            model._by_pair.setdefault((r.service_id, r.surgeon_id), []).append(r.minutes)
            model._by_service.setdefault(r.service_id, []).append(r.minutes)
        for minutes in model._by_service.values():
            minutes.sort()  # the pairs' lists are sorted already (records are in minute order)
        for service_id in model._by_service:
            groups = [v for (s, _), v in model._by_pair.items() if s == service_id]
            k = buhlmann_k(groups)
            model._k[service_id] = default_k if k is None else k
        return model

    def k_of(self, service_id: str) -> float:
        """The pseudo-cases the prior is worth for this procedure."""
        return self._k.get(service_id, self.default_k)

    def surgeons_of(self, service_id: str) -> list[str]:
        """Surgeons with completed cases of the procedure, by id."""
        return sorted(s for (svc, s) in self._by_pair if svc == service_id)

    def estimate(self, service: Service, surgeon_id: str | None = None) -> DurationEstimate:
        """P50 / P80 for the procedure (and surgeon, when given), cached per pair."""
        key = (str(service.id), surgeon_id)
        found = self._cache.get(key)
        if found is None:
            found = self._estimate(service, surgeon_id)
            self._cache[key] = found
        return found

    def _procedure(self, service: Service) -> tuple[list[tuple[float, float]], int, float]:
        """The procedure's mixture with the card (cached per procedure and card length), its
        number of cases and their weight Z_p."""
        key = (str(service.id), service.duration_minutes)
        found = self._procedures.get(key)
        if found is None:
            cases = [(x, 1.0) for x in self._by_service.get(key[0], [])]
            z_p = len(cases) / (len(cases) + self.k_of(key[0]))
            found = (_mix(cases, z_p, [(float(service.duration_minutes), 1.0)], 1.0 - z_p), len(cases), z_p)
            self._procedures[key] = found
        return found

    def _estimate(self, service: Service, surgeon_id: str | None) -> DurationEstimate:
        sid = str(service.id)
        k = self.k_of(sid)
        procedure, n_proc, z_p = self._procedure(service)
        own = [(x, 1.0) for x in self._by_pair.get((sid, surgeon_id), [])] if surgeon_id else []
        z_s = len(own) / (len(own) + k)
        mixture = _mix(own, z_s, procedure, 1.0 - z_s)
        p50, p80 = weighted_quantile(mixture, 0.5), weighted_quantile(mixture, 0.8)
        weights = {"surgeon": z_s, "procedure": (1 - z_s) * z_p, "card": (1 - z_s) * (1 - z_p)}
        basis = max(weights, key=lambda b: weights[b])
        suggested = max(ROUND_MINUTES, math.ceil(p80 / ROUND_MINUTES - 1e-9) * ROUND_MINUTES)
        return DurationEstimate(sid, surgeon_id, round(p50, 1), round(p80, 1), service.duration_minutes,
                                suggested, len(own), n_proc, round(z_s, 3), round(z_p, 3), round(k, 2),
                                basis, self.version)
