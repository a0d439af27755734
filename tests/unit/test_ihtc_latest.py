"""bench/ihtc_latest.py: the latest run of each instance wins; other settings and infeasible rows are
refused."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "ihtc2024"
spec = importlib.util.spec_from_file_location("ihtc_latest", ROOT / "bench" / "ihtc_latest.py")
assert spec is not None and spec.loader is not None
ihtc_latest = importlib.util.module_from_spec(spec)
sys.modules["ihtc_latest"] = ihtc_latest  # dataclasses look their module up there
spec.loader.exec_module(ihtc_latest)

pytestmark = pytest.mark.skipif(not (DATA / "reference_costs.json").exists(),
                                reason=f"IHTC-2024 data not found at {DATA}")


def report(path: Path, date: str, commit: str, costs: dict[str, int], **setting: Any) -> Path:
    rows = [{"instance": name, "cost": cost, "hard_violations": 0} for name, cost in costs.items()]
    path.write_text(json.dumps({"time_limit": 600.0, "threads": 2, "seed": 0, **setting, "date": date,
                                "commit": commit, "rows": rows}), encoding="utf-8")
    return path


def test_the_latest_report_wins_per_instance_and_ranks_against_the_teams(tmp_path: Path) -> None:
    old = report(tmp_path / "old.json", "2026-11-30T02:00:00+00:00", "aaa", {"i01": 4000, "i02": 1400})
    new = report(tmp_path / "new.json", "2026-11-30T09:00:00+00:00", "bbb", {"i01": 3842})
    setting, rows = ihtc_latest.latest([new, old], DATA)
    assert setting == {"time_limit": 600.0, "threads": 2, "seed": 0}
    assert [(r.instance, r.cost, r.source) for r in rows] == [("i01", 3842, "new.json (bbb)"),
                                                             ("i02", 1400, "old.json (aaa)")]
    assert rows[0].gap == 0.0 and rows[0].rank <= 2  # the best known ties the best team
    summary = ihtc_latest.summary(rows)
    assert summary["instances"] == 2 and summary["in_top_5"] == 1
    text = ihtc_latest.markdown(rows, setting, "bench/ihtc_latest.py ...")
    assert "| i02 | 1400 | 1264 | 10.8% |" in text


def test_another_time_limit_or_an_infeasible_row_is_refused(tmp_path: Path) -> None:
    a = report(tmp_path / "a.json", "2026-11-30T02:00:00+00:00", "aaa", {"i01": 4000})
    b = report(tmp_path / "b.json", "2026-11-30T03:00:00+00:00", "bbb", {"i02": 1400}, time_limit=60.0)
    with pytest.raises(SystemExit, match=r"b\.json ran with"):
        ihtc_latest.latest([a, b], DATA)
    c = tmp_path / "c.json"
    c.write_text(json.dumps({"time_limit": 600.0, "threads": 2, "seed": 0, "date": "x", "commit": "c",
                             "rows": [{"instance": "i01", "cost": None, "hard_violations": 0}]}))
    with pytest.raises(SystemExit, match="i01 has no feasible cost"):
        ihtc_latest.latest([c], DATA)
