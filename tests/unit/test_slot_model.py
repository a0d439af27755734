"""The CP-SAT model ``find`` hands a search to when its check budget runs out: start, room and
people chosen together (``planning.slot_model``), one rule per test."""

from __future__ import annotations

import pytest

from careflow.planning.slot_model import Best, Exhausted, Fill, Place, Role, SlotModel

ALWAYS = [(0, 10_000)]
OVERTIME = 3000  # a soft violation's 30 points, in hundredths


def best(model: SlotModel) -> Best:
    found = model.best()
    assert isinstance(found, Best)
    return found


def test_the_cheapest_place_wins_and_ties_go_to_the_earliest_start() -> None:
    places = [Place(0, 300, 500), Place(1, 200, 400), Place(0, 100, 400)]
    found = best(SlotModel(places, [], OVERTIME))
    assert (found.place, found.points, found.proven) == (2, 400, True)


def test_a_role_needs_its_count_of_units_free_at_the_start() -> None:
    places = [Place(0, 100, 0), Place(0, 200, 50), Place(0, 300, 90)]
    one_free_early = [Fill("dr_a", [(0, 150)]), Fill("dr_b", [(150, 400)]), Fill("dr_c", [(250, 400)])]
    found = best(SlotModel(places, [Role(2, one_free_early)], OVERTIME))
    assert found.place == 2, "two surgeons are free together only at 300"


def test_one_person_fills_one_place_of_the_case_only() -> None:
    places = [Place(0, 100, 0), Place(0, 200, 10)]
    # dr_a could lead or assist; at 100 only dr_a is free, so the case waits for dr_b at 200.
    lead = Role(1, [Fill("dr_a", ALWAYS)])
    assist = Role(1, [Fill("dr_a", ALWAYS), Fill("dr_b", [(200, 300)])])
    assert best(SlotModel(places, [lead, assist], OVERTIME)).place == 1


def test_equipment_fixed_in_a_room_serves_only_that_room() -> None:
    places = [Place(0, 100, 0), Place(1, 100, 20)]
    robot = Role(1, [Fill("robot_1", ALWAYS, rooms=frozenset({1}))])
    assert best(SlotModel(places, [robot], OVERTIME)).place == 1


def test_a_clinician_past_the_overtime_threshold_costs_a_soft_violation() -> None:
    places = [Place(0, 100, 0), Place(0, 200, 1000)]
    tired = Role(1, [Fill("dr_a", ALWAYS, calm=[(150, 10_000)])])  # at 100 past the threshold
    found = best(SlotModel(places, [tired], OVERTIME))
    assert (found.place, found.points) == (1, 1000), "10 points later beat 30 points of overtime"


def test_the_model_takes_a_rested_clinician_before_one_in_overtime() -> None:
    places = [Place(0, 100, 0)]
    either = Role(1, [Fill("dr_a", ALWAYS, calm=[]), Fill("dr_b", ALWAYS)])
    assert best(SlotModel(places, [either], OVERTIME)).points == 0
    only_tired = Role(1, [Fill("dr_a", ALWAYS, calm=[])])
    assert best(SlotModel(places, [only_tired], OVERTIME)).points == OVERTIME


def test_a_usual_clinician_free_at_the_start_is_taken_overtime_and_all() -> None:
    places = [Place(0, 100, 0)]
    usual_tired = Role(1, [Fill("dr_usual", ALWAYS, calm=[], preferred=True), Fill("dr_b", ALWAYS)])
    assert best(SlotModel(places, [usual_tired], OVERTIME)).points == OVERTIME, "as find assigns"
    away = Role(1, [Fill("dr_usual", [(500, 600)], calm=[], preferred=True), Fill("dr_b", ALWAYS)])
    assert best(SlotModel(places, [away], OVERTIME)).points == 0, "not free then: anyone calm"


def test_a_usual_clinician_who_could_fill_another_role_is_not_forced_on_either() -> None:
    places = [Place(0, 100, 0)]
    lead = Role(1, [Fill("dr_usual", ALWAYS, calm=[], preferred=True), Fill("dr_b", ALWAYS)])
    assist = Role(1, [Fill("dr_usual", ALWAYS, calm=[], preferred=True), Fill("dr_c", ALWAYS)])
    assert best(SlotModel(places, [lead, assist], OVERTIME)).points == 0, "a bound, never more"


def test_excluding_places_gives_the_next_best_then_none() -> None:
    model = SlotModel([Place(0, 100, 0), Place(1, 100, 30), Place(0, 200, 10)], [], OVERTIME)
    seen = []
    while isinstance(found := model.best(), Best):
        seen.append(found.place)
        model.exclude(found.place)
    assert seen == [0, 2, 1]
    assert isinstance(found, Exhausted)


def test_an_option_held_at_a_start_excludes_the_rooms_there_that_cannot_beat_it() -> None:
    model = SlotModel([Place(0, 100, 50), Place(1, 100, 20), Place(0, 200, 30)], [], OVERTIME)
    model.exclude_at(100, 20)
    assert best(model).place == 2


def test_no_place_with_a_whole_team_is_exhausted() -> None:
    nobody = Role(1, [Fill("dr_a", [(500, 600)])])
    assert isinstance(SlotModel([Place(0, 100, 0)], [nobody], OVERTIME).best(), Exhausted)


def test_a_model_needs_a_place() -> None:
    with pytest.raises(ValueError, match="at least one place"):
        SlotModel([], [], OVERTIME)
