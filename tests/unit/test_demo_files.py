"""Health-system files: the example loads, and every broken file names the exact field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from careflow.demo import load_file
from careflow.demo.files import parse, to_dict
from careflow.demo.yamlsafe import load_yaml
from careflow.domain.errors import InvalidRequest
from careflow.domain.resources import ResourceKind

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "health-system.yaml"

Data = dict[str, Any]


def example() -> Data:
    data = load_yaml(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def index(data: Data, section: str, ident: str) -> int:
    return next(i for i, item in enumerate(data[section]) if item["id"] == ident)


def write(tmp_path: Path, data: Data, suffix: str = ".yaml") -> Path:
    path = tmp_path / f"system{suffix}"
    text = json.dumps(data) if suffix == ".json" else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_file_loads_into_a_complete_health_system() -> None:
    hs = load_file(EXAMPLE)
    assert hs.summary() == {"sites": 2, "resources": 17, "services": 4, "stock_items": 2,
                            "patients": 3, "authorizations": 2, "bookings": 0}
    kinds = {r.kind for r in hs.resources}
    assert kinds == set(ResourceKind)
    surgeon = next(r for r in hs.resources if r.id == "clin-hv-ortho-1")
    assert {b.site_id for b in surgeon.availability.blocks} == {None, "site-hv-clinic"}
    assert surgeon.availability.blocks[0].end.isoformat() == "17:00:00"


def test_yaml_keeps_times_language_codes_and_dates_as_written() -> None:
    data = load_yaml('end: 17:00\nlanguage: no\nday: 2030-01-02\ncount: 12\nok: true\n')
    assert data == {"end": "17:00", "language": "no", "day": "2030-01-02", "count": 12, "ok": True}
    hs = load_file(EXAMPLE)
    assert next(p for p in hs.patients if p.id == "pat-hv-003").language == "no"


def test_the_same_system_loads_from_json(tmp_path: Path) -> None:
    hs = load_file(EXAMPLE)
    again = load_file(write(tmp_path, to_dict(hs), ".json"))
    assert to_dict(again) == to_dict(hs)


def _room_type_missing(d: Data) -> str:
    i = index(d, "resources", "exam-hv-1")
    del d["resources"][i]["profile"]["room_type"]
    return f"resources[{i}].profile.room_type"


def _unknown_site(d: Data) -> str:
    i = index(d, "resources", "mri-hv-1")
    d["resources"][i]["site_id"] = "site-nowhere"
    return f"resources[{i}].site_id"


def _unknown_block_site(d: Data) -> str:
    i = index(d, "resources", "clin-hv-ortho-1")
    d["resources"][i]["availability"]["blocks"][1]["site_id"] = "site-nowhere"
    return f"resources[{i}].availability.blocks[1].site_id"


def _room_working_elsewhere(d: Data) -> str:
    i = index(d, "resources", "exam-hv-1")
    d["resources"][i]["availability"]["blocks"][0]["site_id"] = "site-hv-hospital"
    return f"resources[{i}].availability.blocks[0].site_id"


def _equipment_in_unknown_room(d: Data) -> str:
    i = index(d, "resources", "eq-hv-c-arm-1")
    d["resources"][i]["profile"]["room_id"] = "or-nowhere"
    return f"resources[{i}].profile.room_id"


def _equipment_in_room_of_other_site(d: Data) -> str:
    i = index(d, "resources", "eq-hv-c-arm-1")
    d["resources"][i]["profile"]["room_id"] = "exam-hv-1"
    return f"resources[{i}].profile.room_id"


def _equipment_in_a_bed(d: Data) -> str:
    i = index(d, "resources", "eq-hv-c-arm-1")
    d["resources"][i]["profile"]["room_id"] = "bed-hv-surg-1"
    return f"resources[{i}].profile.room_id"


def _bad_weekdays(d: Data) -> str:
    i = index(d, "resources", "or-hv-1")
    d["resources"][i]["availability"]["blocks"][0]["days"] = "monday-funday"
    return f"resources[{i}].availability.blocks[0].days"


def _naive_exception(d: Data) -> str:
    i = index(d, "resources", "clin-hv-ortho-1")
    d["resources"][i]["availability"]["exceptions"][0]["end"] = "later"
    return f"resources[{i}].availability.exceptions[0].end"


def _unknown_auth_patient(d: Data) -> str:
    d["authorizations"][0]["patient_id"] = "pat-nobody"
    return "authorizations[0].patient_id"


def _unknown_auth_service(d: Data) -> str:
    d["authorizations"][1]["service_id"] = "svc-nothing"
    return "authorizations[1].service_id"


def _auth_window_backwards(d: Data) -> str:
    d["authorizations"][0]["valid_to"] = "2030-01-01"
    return "authorizations[0].valid_to"


def _unknown_stock_site(d: Data) -> str:
    d["stock"][1]["site_id"] = "site-nowhere"
    return "stock[1].site_id"


def _duplicate_stock(d: Data) -> str:
    d["stock"][1]["sku"] = d["stock"][0]["sku"]
    return "stock[1].sku"


def _negative_stock(d: Data) -> str:
    d["stock"][0]["on_hand"] = -3
    return "stock[0].on_hand"


def _duplicate_site(d: Data) -> str:
    d["sites"][1]["id"] = d["sites"][0]["id"]
    return "sites[1].id"


def _duplicate_resource(d: Data) -> str:
    d["resources"][3]["id"] = d["resources"][1]["id"]
    return "resources[3].id"


def _duplicate_service_code(d: Data) -> str:
    d["services"][2]["code"] = d["services"][0]["code"]
    return "services[2].code"


def _service_without_duration(d: Data) -> str:
    del d["services"][1]["duration_minutes"]
    return "services[1].duration_minutes"


def _usual_clinician_is_a_room(d: Data) -> str:
    d["patients"][0]["usual_clinicians"] = ["or-hv-1"]
    return "patients[0].usual_clinicians"


def _preferred_site_unknown(d: Data) -> str:
    d["patients"][0]["preferences"]["sites"] = ["site-nowhere"]
    return "patients[0].preferences.sites"


def _patient_bad_sex(d: Data) -> str:
    d["patients"][2]["sex"] = "yes"
    return "patients[2].sex"


def _site_bad_zone(d: Data) -> str:
    d["sites"][0]["timezone"] = "Mars/Olympus_Mons"
    return "sites[0].timezone"


def _unknown_top_level_key(d: Data) -> str:
    d["resource"] = []
    return "resource"


def _name_missing(d: Data) -> str:
    del d["name"]
    return "name"


def _section_not_a_list(d: Data) -> str:
    d["resources"] = {"id": "x"}
    return "resources"


def _booking_on_unknown_resource(d: Data) -> str:
    d["bookings"] = [{
        "id": "bk-1", "patient_id": "pat-hv-003", "service_id": "svc-hv-mri-knee",
        "site_id": "site-hv-hospital", "start": "2030-05-06T10:00:00-04:00",
        "end": "2030-05-06T10:30:00-04:00",
        "allocations": [{"resource_id": "mri-hv-1", "role": "room", "start": "2030-05-06T09:50:00-04:00",
                         "end": "2030-05-06T10:40:00-04:00"},
                        {"resource_id": "pool-hv-ct-tech", "role": "mri-tech",
                         "start": "2030-05-06T10:00:00-04:00", "end": "2030-05-06T10:30:00-04:00"}],
    }]
    return "bookings[0].allocations[1].resource_id"


def _booking_without_offset(d: Data) -> str:
    _booking_on_unknown_resource(d)
    d["bookings"][0]["start"] = "2030-05-06T10:00:00"
    return "bookings[0].start"


BROKEN: list[Callable[[Data], str]] = [
    _room_type_missing, _unknown_site, _unknown_block_site, _room_working_elsewhere,
    _equipment_in_unknown_room, _equipment_in_room_of_other_site, _equipment_in_a_bed, _bad_weekdays,
    _naive_exception, _unknown_auth_patient, _unknown_auth_service, _auth_window_backwards,
    _unknown_stock_site, _duplicate_stock, _negative_stock, _duplicate_site, _duplicate_resource,
    _duplicate_service_code, _service_without_duration, _usual_clinician_is_a_room,
    _preferred_site_unknown, _patient_bad_sex, _site_bad_zone, _unknown_top_level_key, _name_missing,
    _section_not_a_list, _booking_on_unknown_resource, _booking_without_offset,
]


@pytest.mark.parametrize("breaks", BROKEN, ids=lambda f: f.__name__.strip("_"))
def test_a_broken_file_is_refused_naming_the_exact_field(tmp_path: Path,
                                                          breaks: Callable[[Data], str]) -> None:
    data = copy.deepcopy(example())
    field = breaks(data)
    with pytest.raises(InvalidRequest) as caught:
        load_file(write(tmp_path, data))
    assert caught.value.field == field, caught.value.message
    assert field.split(".")[0] in caught.value.message


def test_a_valid_booking_in_a_file_loads(tmp_path: Path) -> None:
    data = example()
    _booking_on_unknown_resource(data)
    data["bookings"][0]["allocations"][1]["resource_id"] = "pool-hv-mri-tech"
    hs = load_file(write(tmp_path, data))
    assert [b.id for b in hs.bookings] == ["bk-1"]
    assert hs.bookings[0].allocations[1].role == "mri-tech"


@pytest.mark.parametrize(("text", "suffix"), [
    ("name: [unclosed\n", ".yaml"),
    ("name: x\nname: y\n", ".yaml"),
    ("- just\n- a list\n", ".yaml"),
    ('{"name": "x",}', ".json"),
    ('{"name": "x", "name": "y"}', ".json"),
    ("\xff\xfe", ".yaml"),
])
def test_malformed_files_are_invalid_requests(tmp_path: Path, text: str, suffix: str) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(InvalidRequest) as caught:
        load_file(path)
    assert caught.value.field == "file"


def test_a_missing_file_is_an_invalid_request(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="cannot read"):
        load_file(tmp_path / "nothing-here.yaml")


def test_parse_accepts_the_dict_form_directly() -> None:
    assert parse(example()).name == "Harbor Valley Health (example)"


def test_the_documented_minimal_example_loads() -> None:
    doc = (EXAMPLE.parents[1] / "docs" / "health-system-file.md").read_text(encoding="utf-8")
    section = doc.split("## A minimal example", 1)[1]
    text = section.split("```yaml", 1)[1].split("```", 1)[0]
    hs = parse(load_yaml(text))
    assert hs.summary()["resources"] == 2
    assert hs.services[0].code == "VISIT"


def test_the_documented_booking_loads_next_to_the_example() -> None:
    doc = (EXAMPLE.parents[1] / "docs" / "health-system-file.md").read_text(encoding="utf-8")
    section = doc.split("## Bookings", 1)[1]
    snippet = load_yaml(section.split("```yaml", 1)[1].split("```", 1)[0])
    hs = parse({**example(), **snippet})
    assert [a.resource_id for a in hs.bookings[0].allocations] == ["mri-hv-1", "pool-hv-mri-tech"]
