"""``find``: ranked options across the network where every needed resource is free at once.

The search runs on a snapshot (``SearchInputs``) that the service layer loads in one
read transaction. Per site it screens resources with the same ``suitability`` check the
booking path uses, intersects feasible start sets (``feasibility``), takes the first and
last start of every feasible gap on the slot grid (first fills from the front of a gap,
last packs against the next case) and the first of the patient's preferred part of each
day, ranks them (``ranking``), assigns concrete resources to the best ones and runs the
full dependency check on each before proposing it. When that gives fewer options than
asked, the grid starts inside the gaps are ranked and checked too.

Checking is budgeted (``CHECKS_PER_OPTION``). When the budget runs out while an unchecked
start could still rank (every option carries a soft warning its slot score does not show,
say), CP-SAT takes over (``slot_model``): per site, one model holds every grid start in every
room that could still rank, with the people free at each, and gives the next best start,
room and team; each is checked in turn until the model proves none left can rank.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import combinations

from careflow.domain.bookings import Allocation, ItemReservation
from careflow.domain.catalog import Catalog
from careflow.domain.checks import (
    CheckContext,
    check_case,
    check_service_offered,
    check_stock,
    suitability,
)
from careflow.domain.ids import ResourceId
from careflow.domain.occupancy import Occupancy
from careflow.domain.options import Assignment, FindRequest, Option, RankReason, build_allocations
from careflow.domain.patients import Authorization, Patient
from careflow.domain.preference_cards import Need, Service
from careflow.domain.sites import Site, distance_km
from careflow.domain.stock import StockLevel
from careflow.domain.timespans import Span, from_ts, intersect, normalize, to_ts
from careflow.domain.violations import Violation, ViolationCode, hard
from careflow.planning.assignment import Assigned, Demand, Unit, Unsettled, assign
from careflow.planning.feasibility import (
    Candidate,
    at_least,
    calm_starts,
    contract_starts,
    local_bounds,
    need_offsets,
    patient_free,
    unit_starts,
)
from careflow.planning.prerequisites import prerequisite_days
from careflow.planning.ranking import DEFAULT_WEIGHTS, RankingWeights, time_of_day
from careflow.planning.slot_grid import edge_starts, every_start, inner_starts, preferred_starts
from careflow.planning.slot_model import Best, Exhausted, Fill, Place, Role, SlotModel
from careflow.planning.slot_model import Unsettled as SlotUnsettled

__all__ = ["CHECKS_PER_OPTION", "FindResult", "SearchInputs", "SiteInputs", "eligible_by_role",
           "find_options"]

CHECKS_PER_OPTION = 6  # full checks per option asked, by the slot search and again by CP-SAT
MOST_PLACES = 20_000  # grid starts per site the CP-SAT model holds; past it, not proven


@dataclass
class SiteInputs:
    """One site's slice of the snapshot: who may fill each role, their occupancy, stock."""

    site: Site
    eligible: dict[str, list[ResourceId]]
    occupancy: dict[ResourceId, Occupancy]
    stock: dict[str, StockLevel]


def eligible_by_role(catalog: Catalog, service: Service, patient: Patient, site: Site,
                     day: date) -> dict[str, list[ResourceId]]:
    """Per role on the card, the site's resources that pass ``suitability`` (time aside).

    Memoized per catalog version on what suitability reads of the patient and the day.
    """
    def make() -> dict[str, list[ResourceId]]:
        out: dict[str, list[ResourceId]] = {}
        for need in service.needs(patient.interpreter_language):
            out[need.role] = [r.id for r in catalog.at_site(site.id, need.kind)
                              if not suitability(need, r, site, patient, day)]
        return out

    key = ("eligible", service.id, site.id, patient.interpreter_language, patient.sex,
           patient.isolation_required, day)
    return catalog.memo(key, make)


@dataclass
class SearchInputs:
    request: FindRequest
    catalog: Catalog
    service: Service
    patient: Patient
    now: datetime
    sites: list[SiteInputs]
    authorizations: list[Authorization]
    patient_busy: list[Span]
    weights: RankingWeights = DEFAULT_WEIGHTS


@dataclass
class FindResult:
    """The ranked options, and why the search found no more (per site and role)."""

    options: list[Option]
    blockers: list[Violation] = field(default_factory=list)
    considered: int = 0
    # No slot that could still rank in the top ``limit`` went unchecked for want of the check
    # budget, and every option's units are the proven cheapest at its start (False: best found).
    proven: bool = True
    cp_sat: bool = False  # the slot search ran out of checks and CP-SAT ranked the rest


@dataclass
class _Slot:
    site: SiteInputs
    room: Candidate | None
    start: int
    score: float  # what ``_score`` says; its reasons are spelled out only for slots checked
    window_lo: int


@dataclass
class _SitePlan:
    inputs: SiteInputs
    needs: list[Need]
    units: dict[str, list[Candidate]]  # role -> candidate units (rooms under "room")
    feasible: dict[str, list[Span]]  # role -> start set, for non-room roles
    km: float | None = None  # from the patient's home, when known
    bounds: list[int] | None = None  # local midnights (``local_bounds``), when a clinician is needed
    # clinician -> starts that need no overtime approval (None: any), filled as they are asked
    calm: dict[str, list[Span] | None] = field(default_factory=dict)


def find_options(inp: SearchInputs) -> FindResult:
    """Ranked, fully checked options for the request, best first."""
    service = inp.service
    blockers: list[Violation] = []
    window = _bookable_window(inp)
    if window is None:
        blockers.append(hard(ViolationCode.OUTSIDE_BOOKING_WINDOW, service.id,
                             "no part of the requested window is inside the booking window"))
        return FindResult([], blockers)
    # Authorization validity and prep due dates are local dates: each site's own zone.
    prerequisites = [prerequisite_days(service, inp.patient, inp.authorizations, window, inp.now,
                                       si.site.zone) for si in inp.sites]
    if not any(allowed for allowed, _ in prerequisites):
        return FindResult([], prerequisites[0][1])
    patient_free_starts = patient_free(window, inp.patient_busy, service.duration)
    slots: list[_Slot] = []
    plans: list[_SitePlan] = []
    gaps: list[_Gap] = []
    for site_inputs, (allowed, _) in zip(inp.sites, prerequisites, strict=True):
        if not allowed:
            continue
        plan = _plan_site(inp, site_inputs, window, blockers)
        if plan is None:
            continue
        plans.append(plan)
        slots.extend(_slots_at(inp, plan, intersect(patient_free_starts, allowed), window[0], gaps))
    slots.sort(key=lambda s: (s.score, s.start, s.site.site.id))
    search = _Search(inp, plans)
    options = search.materialize(slots)
    if len(options) < inp.request.limit:  # edges of the gaps were too few
        tried: set[tuple[str, int]] = {(s.site.site.id, s.start) for s in slots}
        inner, capped = _inner_slots(inp, gaps, window[0], search.budget, tried)
        slots.extend(inner)
        options = search.materialize(inner)
        search.cut |= capped and len(options) < inp.request.limit
    handed = search.cut
    if handed:  # some start that could rank went unchecked: CP-SAT ranks every grid start
        search.cut = not _rank_by_cp_sat(inp, gaps, window[0], search)
        options = search.top()
    search.cut |= search.unsettled
    if not options:
        blockers.extend(search.refused)
    if not options and not blockers:
        blockers.append(hard(ViolationCode.RESOURCE_BOOKED, service.id,
                             "every required resource is never free at once in the window"))
    unproven = any((o.site_id, to_ts(o.start)) in search.unproven for o in options)
    return FindResult(options, _dedupe(blockers), len(slots), proven=not (search.cut or unproven),
                      cp_sat=handed)


def _dedupe(violations: list[Violation]) -> list[Violation]:
    return list(dict.fromkeys(violations))


def _bookable_window(inp: SearchInputs) -> Span | None:
    req, win = inp.request, inp.service.window
    now = to_ts(inp.now)
    lo = max(to_ts(req.earliest), now + win.min_lead_minutes * 60)
    hi = min(to_ts(req.latest), now + win.max_days_ahead * 86400 + 1)
    return (lo, hi) if lo < hi else None


def _plan_site(inp: SearchInputs, si: SiteInputs, window: Span,
               blockers: list[Violation]) -> _SitePlan | None:
    """Screen the site's resources per need and compute each need's feasible starts."""
    service, patient, site = inp.service, inp.patient, si.site
    offered = check_service_offered(service, site)
    if offered:
        blockers.extend(offered)
        return None
    stock = [v for v in check_stock(service.items, si.stock, site) if v.is_hard]
    if stock:
        blockers.extend(stock)
        return None
    needs = service.needs(patient.interpreter_language)
    units: dict[str, list[Candidate]] = {}
    feasible: dict[str, list[Span]] = {}
    bounds: list[int] | None = None
    for need in needs:
        eligible = [si.occupancy[rid] for rid in si.eligible.get(need.role, [])]
        if not eligible:
            code = _missing_code(need, inp, site)
            blockers.append(hard(code, f"{site.id}:{need.role}",
                                 f"{site.id} has no resource that can fill role {need.role}", need.role))
            return None
        cands = [c for occ in eligible for c in unit_starts(need, occ, service.duration)]
        if need.clinician is not None and cands:
            bounds = bounds or local_bounds(window, site.zone)
            within = _within_contract(need, cands, si, bounds, service.duration)
            if not within:  # free, but never within their credentials and working hours
                blockers.append(_contract_blocker(need, cands, si, window))
                return None
            cands = within
        units[need.role] = cands
        if need.role != "room":
            feasible[need.role] = _need_starts(need, cands)
    feasible.update(_distinct_units(needs, units))
    km = distance_km(patient.home, site.position) if patient.home is not None else None
    return _SitePlan(si, needs, units, feasible, km, bounds)


def _distinct_units(needs: Sequence[Need], units: dict[str, list[Candidate]]) -> dict[str, list[Span]]:
    """Starts at which roles that draw on the same single units (a surgeon who could lead or
    assist) can all be filled by different ones: every group of such roles has as many
    units free at once as it needs together (Hall's condition), keyed by the group's roles."""
    single = [n for n in needs if n.role != "room" and n.pool_role is None]
    ids = {n.role: {c.resource_id for c in units[n.role]} for n in single}
    groups: list[list[Need]] = []
    for need in single:  # roles connected by a shared unit
        joined = [g for g in groups if any(ids[n.role] & ids[need.role] for n in g)]
        groups = [g for g in groups if g not in joined] + [[need, *(n for g in joined for n in g)]]
    out: dict[str, list[Span]] = {}
    for group in groups:
        for size in range(2, len(group) + 1):
            for roles in combinations(group, size):
                by_unit: dict[str, list[Span]] = {}
                for n in roles:
                    for c in units[n.role]:
                        by_unit.setdefault(c.resource_id, []).extend(c.starts)
                out["+".join(sorted(n.role for n in roles))] = at_least(
                    sum(n.count for n in roles), [normalize(s) for s in by_unit.values()])
    return out


def _within_contract(need: Need, cands: list[Candidate], si: SiteInputs,
                     bounds: list[int], duration: int) -> list[Candidate]:
    """Clinician candidates cut to the starts their credentials and working hours allow."""
    out: list[Candidate] = []
    for c in cands:
        allowed = contract_starts(need, si.occupancy[ResourceId(c.resource_id)], si.site.zone, bounds,
                                  duration)
        starts = c.starts if allowed is None else intersect(c.starts, allowed)
        if starts:
            out.append(c if allowed is None else Candidate(c.resource_id, c.lane, starts))
    return out


def _contract_blocker(need: Need, cands: Sequence[Candidate], si: SiteInputs, window: Span) -> Violation:
    """Why the clinicians free for ``need`` cannot take it: their credentials lapse before
    the window, or the case would take them past their working-hour limits."""
    site, req = si.site, need.clinician
    assert req is not None
    first_day = datetime.fromtimestamp(window[0], site.zone).date()
    for c in cands:
        prof = si.occupancy[ResourceId(c.resource_id)].resource.clinician
        if not all((cred := prof.credential(code)) is not None and cred.valid_on(first_day)
                   for code in req.credentials):
            continue
        return hard(ViolationCode.CLINICIAN_HOURS_EXCEEDED, f"{site.id}:{need.role}",
                    f"every clinician free for role {need.role} at {site.id} would go past their "
                    "working-hour limits", need.role)
    return hard(ViolationCode.CLINICIAN_CREDENTIAL_EXPIRED, f"{site.id}:{need.role}",
                f"the credentials of every clinician for role {need.role} at {site.id} lapse "
                "before the window", need.role)


def _missing_code(need: Need, inp: SearchInputs, site: Site) -> ViolationCode:
    if need.role == "interpreter":
        return ViolationCode.INTERPRETER_UNAVAILABLE
    if need.role == "bed":
        return ViolationCode.BED_UNAVAILABLE
    if need.pool_role is not None:
        return ViolationCode.STAFF_COVERAGE_SHORT
    if need.clinician is not None:
        # A clinician who is privileged but whose license has lapsed is the nearest miss.
        day = inp.request.earliest.astimezone(site.zone).date()
        codes = {v.code for r in inp.catalog.at_site(site.id, need.kind)
                 for v in suitability(need, r, site, inp.patient, day)}
        if ViolationCode.CLINICIAN_CREDENTIAL_EXPIRED in codes:
            return ViolationCode.CLINICIAN_CREDENTIAL_EXPIRED
        return ViolationCode.CLINICIAN_NOT_PRIVILEGED
    if need.room is not None:
        return ViolationCode.ROOM_UNSUITABLE
    return ViolationCode.REQUIREMENT_UNFILLED


def _need_starts(need: Need, cands: Sequence[Candidate]) -> list[Span]:
    """Starts at which ``need.count`` distinct people/units (or pool lanes) are free."""
    if need.pool_role is not None:
        return at_least(need.count, [c.starts for c in cands])
    by_resource: dict[str, list[Span]] = {}
    for c in cands:
        by_resource.setdefault(c.resource_id, []).extend(c.starts)
    return at_least(need.count, list(by_resource.values()))


def _fixed_sensitive(plan: _SitePlan, catalog: Catalog) -> set[str]:
    """Equipment roles with some units fixed in particular rooms (checked per room)."""
    return {n.role for n in plan.needs if n.equipment_type is not None and any(
        not catalog.resources[ResourceId(c.resource_id)].equipment.mobile for c in plan.units[n.role])}


def _room_equipment_starts(plan: _SitePlan, room: Candidate, roles: set[str],
                           catalog: Catalog) -> list[Span] | None:
    """Starts allowed by the fixed-sensitive equipment roles for this room."""
    allowed: list[Span] | None = None
    for need in plan.needs:
        if need.role not in roles:
            continue
        cands = [c for c in plan.units[need.role] if _serves(catalog, need, c, room.resource_id)]
        starts = _need_starts(need, cands)
        allowed = starts if allowed is None else intersect(allowed, starts)
    return allowed


@dataclass
class _Gap:
    """The feasible starts of a case in one room (or with no room) at a site."""

    plan: _SitePlan
    room: Candidate | None
    starts: list[Span]


def _slots_at(inp: SearchInputs, plan: _SitePlan, base: list[Span], window_lo: int,
              gaps: list[_Gap]) -> list[_Slot]:
    """First and last grid start of every feasible gap, per room, scored (and the first of
    the patient's preferred part of each day); the feasible starts are added to ``gaps``."""
    sensitive = _fixed_sensitive(plan, inp.catalog)
    common = base
    for role, starts in plan.feasible.items():
        if role in sensitive:
            continue
        common = intersect(common, starts)
        if not common:
            return []
    rooms: list[Candidate | None] = [*plan.units["room"]] if "room" in plan.units else [None]
    part = inp.patient.preferences.time_of_day
    site, slot_minutes = plan.inputs.site, inp.service.slot_minutes
    slots: list[_Slot] = []
    for room in rooms:
        starts = common if room is None else intersect(common, room.starts)
        if room is not None and sensitive:
            fixed = _room_equipment_starts(plan, room, sensitive, inp.catalog)
            starts = intersect(starts, fixed or [])
        if not starts:
            continue
        gaps.append(_Gap(plan, room, starts))
        times = edge_starts(starts, site, slot_minutes)
        if part is not None:
            times = list(dict.fromkeys(times + preferred_starts(starts, site, slot_minutes, part)))
        for t in times:
            score, _ = _score(inp, plan, room, t, window_lo, explain=False)
            slots.append(_Slot(plan.inputs, room, t, score, window_lo))
    return slots


def _inner_slots(inp: SearchInputs, gaps: Sequence[_Gap], window_lo: int, most: int,
                 skip: set[tuple[str, int]]) -> tuple[list[_Slot], bool]:
    """Grid starts inside the gaps, for when their edges gave too few options: the earliest
    ``most`` at their site not in ``skip``, scored (packing and waiting rank them); and whether
    ``most`` may have left some out."""
    found: dict[tuple[str, int], _Gap] = {}
    capped = False
    for gap in gaps:
        site = gap.plan.inputs.site
        starts = inner_starts(gap.starts, site, inp.service.slot_minutes, most)
        capped |= bool(gap.starts) and len(starts) >= most
        for t in starts:
            found.setdefault((site.id, t), gap)
    keys = sorted((k for k in found if k not in skip), key=lambda k: k[1])
    capped |= len(keys) > most
    slots: list[_Slot] = []
    for key in keys[:most]:
        gap = found[key]
        score, _ = _score(inp, gap.plan, gap.room, key[1], window_lo, explain=False)
        slots.append(_Slot(gap.plan.inputs, gap.room, key[1], score, window_lo))
    slots.sort(key=lambda s: (s.score, s.start, s.site.site.id))
    return slots, capped


def _containing(spans: Sequence[Span], t: int) -> Span | None:
    i = bisect_right(spans, (t, 2**62)) - 1
    if i >= 0 and spans[i][0] <= t < spans[i][1]:
        return spans[i]
    return None


def _score(inp: SearchInputs, plan: _SitePlan, room: Candidate | None, t: int,
           window_lo: int, explain: bool = True) -> tuple[float, list[RankReason]]:
    """The option's penalty and, with ``explain``, its terms (see ``ranking``). Every
    candidate is scored but only those checked are explained: the texts cost more than the
    arithmetic, and both paths add the same rounded points."""
    w, req, patient, site = inp.weights, inp.request, inp.patient, plan.inputs.site
    terms: list[tuple[str, float, float, str]] = []  # kind, value, points, text ("" unexplained)
    days = (t - window_lo) / 86400
    terms.append(("wait", round(days, 2), round(days * w.wait_per_day[req.urgency], 2),
                  f"{days:.1f} days after the earliest possible start" if explain else ""))
    if plan.km is not None:
        terms.append(("travel", round(plan.km, 1), round(plan.km * w.travel_per_km[req.urgency], 2),
                      f"{plan.km:.0f} km from home" if explain else ""))
    prefs = patient.preferences
    if prefs.weekdays or prefs.time_of_day:
        local = datetime.fromtimestamp(t, site.zone)
        if prefs.weekdays and local.weekday() not in prefs.weekdays:
            terms.append(("preference", 1, w.weekday_mismatch, "not a preferred weekday"))
        if prefs.time_of_day and time_of_day(local.hour) != prefs.time_of_day:
            terms.append(("preference", 1, w.time_of_day_mismatch,
                          f"{time_of_day(local.hour)}, prefers {prefs.time_of_day}" if explain else ""))
    if prefs.sites and site.id not in prefs.sites:
        terms.append(("preference", 1, w.site_mismatch, "not a preferred site"))
    if room is not None:
        terms.extend(_utilization(inp, plan, room, t))
    wanted = _wanted_clinicians(inp)
    clinician_roles = [n.role for n in plan.needs if n.clinician is not None]
    if wanted and clinician_roles:
        hit = any(c.resource_id in wanted and _containing(c.starts, t) is not None
                  for role in clinician_roles for c in plan.units[role])
        if hit:
            terms.append(("continuity", 1, 0.0, "with a usual or preferred clinician"))
        else:
            terms.append(("continuity", 0, w.continuity_miss,
                          "usual or preferred clinicians are not free then"))
    total = round(sum(term[2] for term in terms), 2)
    if not explain:
        return total, []
    return total, [RankReason(kind, value, pts, text) for kind, value, pts, text in terms]


def _utilization(inp: SearchInputs, plan: _SitePlan, room: Candidate,
                 t: int) -> list[tuple[str, float, float, str]]:
    """Penalize leaving unbookable fragments in the room's day; reward packing flush."""
    w, service = inp.weights, inp.service
    occ = plan.inputs.occupancy[ResourceId(room.resource_id)]
    need = next(n for n in plan.needs if n.role == "room")
    a, b = need_offsets(need, service.duration, 0)
    gap = _containing(occ.lane_free_spans(0), t + a)
    if gap is None:
        return []
    out: list[tuple[str, float, float, str]] = []
    fragment = min(w.fragment_minutes * 60, service.duration)
    for side, left in (("before", t + a - gap[0]), ("after", gap[1] - (t + b))):
        if left <= 0:
            out.append(("utilization", 0, 0.0, f"flush {side}"))
        elif left < fragment:
            out.append(("utilization", left // 60, w.gap_fragment,
                        f"leaves a {left // 60}-minute fragment {side}"))
        else:
            out.append(("utilization", left // 60, w.gap_opened, f"opens a gap {side}"))
    return out


def _wanted_clinicians(inp: SearchInputs) -> frozenset[ResourceId]:
    """The patient's usual and preferred clinicians and those the request names."""
    patient = inp.patient
    return patient.usual_clinicians | patient.preferences.clinicians | inp.request.preferred_clinicians


_Chosen = list[tuple[Assignment, int]]  # the unit (and pool lane) for each place of the case
_Fit = tuple[int, int, int, Candidate]  # not wanted, needs overtime approval, idle before, unit


def _assign(inp: SearchInputs, plan: _SitePlan, slot: _Slot) -> tuple[_Chosen, bool] | Unsettled | None:
    """Concrete units for every need at the slot's start: preferred people, then tightest fit.

    A single unit fills one role of a case, never two, and a pool lane one place; when the
    preferred choice for one role leaves another role without anyone (the only privileged
    surgeon picked to assist), ``assignment.assign`` searches for the best other choice. The
    flag says whether the units are proven the cheapest choice; ``Unsettled``: whether any
    team exists is not known.
    """
    t = slot.start
    wanted = _wanted_clinicians(inp)
    ranked: list[list[_Fit]] = []  # per need: (not wanted, overtime, idle before, unit)
    for need in plan.needs:
        if need.role == "room":
            assert slot.room is not None
            ranked.append([(1, 0, 0, slot.room)])
            continue
        fits: list[_Fit] = []
        for c in plan.units[need.role]:
            if slot.room is not None and not _serves(inp.catalog, need, c, slot.room.resource_id):
                continue
            span = _containing(c.starts, t)
            if span is not None:
                fits.append((0 if c.resource_id in wanted else 1, _overtime(inp, plan, need, c, t),
                             t - span[0], c))
        fits.sort(key=lambda f: (f[0], f[1], f[2], f[3].resource_id, f[3].lane))
        if len(fits) < need.count:
            return None
        ranked.append(fits)
    firsts = _first_choices(plan.needs, ranked)
    if firsts is not None:  # no role wanted another's unit: each has its best (the usual case)
        return firsts, True
    assigned = assign([Demand(need.count, tuple(Unit(_unit_key(need, c), miss == 0, slack, soft)
                                                for miss, soft, slack, c in fits))
                       for need, fits in zip(plan.needs, ranked, strict=True)])
    if not isinstance(assigned, Assigned):
        return assigned
    return [(Assignment(need.role, ResourceId(fits[i][3].resource_id)), fits[i][3].lane)
            for need, fits, picks in zip(plan.needs, ranked, assigned.picks, strict=True)
            for i in picks], assigned.proven


def _unit_key(need: Need, c: Candidate) -> str:
    """What one case may use once: a person or device, or one lane of a pool."""
    return c.resource_id if need.pool_role is None else f"{c.resource_id}#{c.lane}"


def _overtime(inp: SearchInputs, plan: _SitePlan, need: Need, c: Candidate, t: int) -> int:
    """1 when taking the clinician at ``t`` puts them past their weekly overtime threshold."""
    calm = _calm(inp, plan, need, c)
    return 0 if calm is None or _containing(calm, t) is not None else 1


def _calm(inp: SearchInputs, plan: _SitePlan, need: Need, c: Candidate) -> list[Span] | None:
    """The clinician's starts that need no overtime approval (None: any start), memoized."""
    if need.clinician is None or plan.bounds is None:
        return None
    if c.resource_id not in plan.calm:
        occ = plan.inputs.occupancy[ResourceId(c.resource_id)]
        plan.calm[c.resource_id] = calm_starts(occ, plan.bounds, inp.service.duration)
    return plan.calm[c.resource_id]


def _first_choices(needs: Sequence[Need], ranked: Sequence[Sequence[_Fit]]
                   ) -> list[tuple[Assignment, int]] | None:
    """Every need's best units, or None when two needs want the same one (``assignment``'s
    greedy pass, without building its inputs)."""
    chosen: list[tuple[Assignment, int]] = []
    used: set[str] = set()
    for need, fits in zip(needs, ranked, strict=True):
        for _, _, _, c in fits[:need.count]:
            key = _unit_key(need, c)
            if key in used:
                return None
            used.add(key)
            chosen.append((Assignment(need.role, ResourceId(c.resource_id)), c.lane))
    return chosen


class _Search:
    """Turns slots into checked options, best first, within one budget of full checks."""

    def __init__(self, inp: SearchInputs, plans: list[_SitePlan]) -> None:
        self.inp = inp
        self.by_site = {id(p.inputs): p for p in plans}
        self.at: dict[tuple[str, int], Option] = {}  # the option proposed at each (site, start)
        self.base: dict[tuple[str, int], float] = {}  # and its slot's score (``_score``, no soft points)
        self.checked: set[tuple[str, int, str | None]] = set()  # (site, start, room) checked
        self.refused: list[Violation] = []
        self.budget = inp.request.limit * CHECKS_PER_OPTION
        self.cut = False  # the budget ran out while a slot could still rank
        self.unsettled = False  # a team search settled nothing at a start that could rank
        self.unproven: set[tuple[str, int]] = set()  # (site, start) of options whose units are the best found

    def materialize(self, slots: list[_Slot]) -> list[Option]:
        """Check the best slots until no unchecked one can rank in the top ``limit``.

        A slot's score is a lower bound of its option's: the full check may add points for
        soft violations. So once ``limit`` options are in hand, slots keep being checked
        while one could still beat the last option kept (within the budget of checks).
        Slots come best first, so a start already proposed (in another room) is passed over.
        """
        for slot in slots:
            if not self.could_rank(slot.score, slot.start, slot.site.site.id):
                break
            if self.budget <= 0:
                self.cut = True
                break
            if (slot.site.site.id, slot.start) not in self.at:
                self.budget -= self.check(slot)
        return self.top()

    def could_rank(self, score: float, start: int, site_id: str) -> bool:
        """Whether an option scoring at least ``score`` at ``start`` could enter the top ``limit``."""
        top = self.top()
        if len(top) < self.inp.request.limit:
            return True
        last = top[-1]
        return (score, start, site_id) < (last.score, to_ts(last.start), last.site_id)

    def check(self, slot: _Slot) -> bool:
        """Propose the slot when its units and the full check allow, in place of the option at
        its start when it beats it; whether a full check ran."""
        key = (slot.site.site.id, slot.start)
        self.checked.add((*key, slot.room.resource_id if slot.room is not None else None))
        plan = self.by_site[id(slot.site)]
        assigned = _assign(self.inp, plan, slot)
        if isinstance(assigned, Unsettled):  # a slot that may have had an option
            self.unsettled = True
            return False
        if assigned is None:
            return False
        chosen, proven = assigned
        option = _checked_option(self.inp, plan, slot, chosen, self.refused)
        held = self.at.get(key)
        if option is not None and (held is None or option.score < held.score):
            self.at[key] = option
            self.base[key] = slot.score
            if proven:
                self.unproven.discard(key)
            else:
                self.unproven.add(key)
        return True

    def top(self) -> list[Option]:
        """The best ``limit`` options so far, best first."""
        return sorted(self.at.values(), key=lambda o: (o.score, o.start, o.site_id))[:self.inp.request.limit]


@dataclass
class _SiteModel:
    """A site's CP-SAT model, its gaps (a place's ``room`` indexes them) and the points of its
    soft stock warnings, which every place there carries."""

    model: SlotModel
    gaps: list[_Gap]
    warned: int

    def held(self, search: _Search, site_id: str, start: int) -> None:
        """No room at ``start`` whose slot scores no better than the option held there: the soft
        points at a start do not depend on the room, so it could not beat that option."""
        if (site_id, start) in search.base:
            self.model.exclude_at(start, round(search.base[site_id, start] * 100) + self.warned)


def _rank_by_cp_sat(inp: SearchInputs, gaps: Sequence[_Gap], window_lo: int, search: _Search) -> bool:
    """When the check budget ran out: CP-SAT (``slot_model``) gives each site's next best start,
    room and people over every grid start of its gaps, and the best of them is checked in turn
    until none could rank (a proof, True) or a second budget of checks or of solves is spent."""
    by_site: dict[str, list[_Gap]] = {}
    for gap in gaps:
        by_site.setdefault(gap.plan.inputs.site.id, []).append(gap)
    proven = True
    models: dict[str, _SiteModel] = {}
    frontier: dict[str, Best] = {}
    for site_id, site_gaps in by_site.items():
        built = _slot_model(inp, site_gaps, window_lo, search)
        if built is None:
            continue
        models[site_id], capped = built
        proven &= not capped
        for at_site, start in search.base:
            if at_site == site_id:
                models[site_id].held(search, site_id, start)
        proven &= _advance(frontier, site_id, models[site_id].model.best())
    checks = solves = inp.request.limit * CHECKS_PER_OPTION
    while frontier:
        proven &= all(b.proven for b in frontier.values())
        site_id = min(frontier, key=lambda k: (frontier[k].points, _place(models, frontier, k).start, k))
        site, best = models[site_id], frontier[site_id]
        place = site.model.places[best.place]
        if not search.could_rank(best.points / 100, place.start, site_id):
            break
        if checks == 0 or solves == 0:
            return False
        gap = site.gaps[place.room]
        checks -= search.check(_Slot(gap.plan.inputs, gap.room, place.start,
                                     (place.points - site.warned) / 100, window_lo))
        site.model.exclude(best.place)
        site.held(search, site_id, place.start)
        solves -= 1
        proven &= _advance(frontier, site_id, site.model.best())
    return proven


def _place(models: dict[str, _SiteModel], frontier: dict[str, Best], site_id: str) -> Place:
    return models[site_id].model.places[frontier[site_id].place]


def _advance(frontier: dict[str, Best], site_id: str, found: Best | Exhausted | SlotUnsettled) -> bool:
    """Put the site's next best place on the frontier (or take the site off); False when
    CP-SAT could not settle whether one is left."""
    if isinstance(found, Best):
        frontier[site_id] = found
    else:
        frontier.pop(site_id, None)
    return not isinstance(found, SlotUnsettled)


def _slot_model(inp: SearchInputs, gaps: Sequence[_Gap], window_lo: int,
                search: _Search) -> tuple[_SiteModel, bool] | None:
    """One site's model: every grid start of its gaps (rooms) not checked yet that could still
    rank, scored as ``find`` ranks them (with the site's soft stock warnings), and its roles'
    units; and whether ``MOST_PLACES`` left starts out. None when no start is left."""
    plan, service = gaps[0].plan, inp.service
    site, soft = plan.inputs.site, round(inp.weights.soft_violation * 100)
    warned = soft * sum(not v.is_hard for v in check_stock(service.items, plan.inputs.stock, site))
    top = search.top()
    bar = (top[-1].score, to_ts(top[-1].start), top[-1].site_id) if len(top) == inp.request.limit else None
    per_day = inp.weights.wait_per_day[inp.request.urgency]
    places: list[Place] = []
    capped = False
    for index, gap in enumerate(gaps):
        room_id = gap.room.resource_id if gap.room is not None else None
        for t in every_start(gap.starts, site, service.slot_minutes):
            # waiting alone (less a rounding) already ranks below the bar: so do later starts
            waiting = (t - window_lo) / 86400 * per_day + warned / 100 - 0.01
            if bar is not None and (waiting, t, site.id) >= bar:
                break
            if (site.id, t, room_id) in search.checked:
                continue
            score, _ = _score(inp, plan, gap.room, t, window_lo, explain=False)
            points = round(score * 100) + warned
            if bar is not None and (points / 100, t, site.id) >= bar:
                continue
            if len(places) == MOST_PLACES:
                capped = True
                break
            places.append(Place(index, t, points))
    if not places:
        return None
    wanted = _wanted_clinicians(inp)
    roles = [Role(need.count, [Fill(_unit_key(need, c), c.starts, _fixed_rooms(inp, gaps, need, c),
                                    _calm(inp, plan, need, c), c.resource_id in wanted)
                               for c in plan.units[need.role]])
             for need in plan.needs if need.role != "room"]
    return _SiteModel(SlotModel(places, roles, soft), list(gaps), warned), capped


def _fixed_rooms(inp: SearchInputs, gaps: Sequence[_Gap], need: Need, c: Candidate) -> frozenset[int] | None:
    """For equipment fixed in a room, the gaps (rooms) it can serve; None for anything else."""
    if need.equipment_type is None or inp.catalog.resources[ResourceId(c.resource_id)].equipment.mobile:
        return None
    return frozenset(i for i, g in enumerate(gaps)
                     if g.room is None or _serves(inp.catalog, need, c, g.room.resource_id))


def _serves(catalog: Catalog, need: Need, c: Candidate, room_id: str) -> bool:
    """Whether the unit can fill ``need`` in room ``room_id``: equipment fixed in another room
    cannot."""
    if need.equipment_type is None:
        return True
    eq = catalog.resources[ResourceId(c.resource_id)].equipment
    return eq.mobile or eq.room_id == room_id


def _checked_option(inp: SearchInputs, plan: _SitePlan, slot: _Slot,
                    chosen: list[tuple[Assignment, int]], refused: list[Violation]) -> Option | None:
    service, si = inp.service, plan.inputs
    start = from_ts(slot.start)
    end, allocs = build_allocations(service, plan.needs, start, [a for a, _ in chosen],
                                    inp.catalog.resources)
    allocations = tuple(Allocation(a.resource_id, a.role, a.start, a.end, lane)
                        for a, (_, lane) in zip(allocs, chosen, strict=True))
    ctx = CheckContext(now=inp.now, service=service, patient=inp.patient, site=si.site,
                       resources=inp.catalog.resources, occupancy=si.occupancy, stock=si.stock,
                       authorizations=inp.authorizations, patient_busy=inp.patient_busy)
    violations = check_case(ctx, start, end, allocations)
    if any(v.is_hard for v in violations):
        refused.extend(v for v in violations if v.is_hard)
        return None
    _, reasons = _score(inp, plan, slot.room, slot.start, slot.window_lo)
    if violations:
        codes = ", ".join(v.code.value for v in violations)
        points = len(violations) * inp.weights.soft_violation
        reasons.append(RankReason("soft", len(violations), points, f"needs an override: {codes}"))
    score = round(sum(r.points for r in reasons), 2)
    return Option(service.id, inp.patient.id, si.site.id, start, end, allocations,
                  tuple(ItemReservation(i.sku, i.quantity) for i in service.items),
                  inp.request.urgency, score, tuple(reasons), tuple(violations))
