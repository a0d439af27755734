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
sys.path.append(str(ROOT / "bench"))  # as when run as a script: its `_common` beside it
spec = importlib.util.spec_from_file_location("ihtc_latest", ROOT / "bench" / "ihtc_latest.py")
assert spec is not None and spec.loader is not None
ihtc_latest = importlib.util.module_from_spec(spec)
sys.modules["ihtc_latest"] = ihtc_latest  # dataclasses look their module up there
spec.loader.exec_module(ihtc_latest)

NEEDED = (DATA / "reference_costs.json", DATA / "results" / "ihtc2024_ph1_results.csv")
pytestmark = pytest.mark.skipif(not all(p.exists() for p in NEEDED),
                                reason=f"IHTC-2024 data not found at {DATA}")


def row(instance: str, cost: int | None, status: str = "ok") -> dict[str, Any]:
    return {"instance": instance, "cost": cost, "hard_violations": 0, "status": status}


def report(path: Path, date: str, commit: str, costs: dict[str, int | None], status: str = "ok",
           **setting: Any) -> Path:
    rows = [row(name, cost, status) for name, cost in costs.items()]
    path.write_text(json.dumps({"time_limit": 600.0, "threads": 2, "seed": 0, **setting, "date": date,
                                "commit": commit, "rows": rows}), encoding="utf-8")
    return path


def test_the_latest_run_wins_per_instance_and_ranks_against_the_teams(tmp_path: Path) -> None:
    old = report(tmp_path / "old.json", "2026-11-30T02:00:00+00:00", "aaa", {"i01": 4000, "i02": 1400})
    new = report(tmp_path / "new.json", "2026-11-30T09:00:00+00:00", "bbb", {"i01": 3842})
    setting, rows = ihtc_latest.latest([new, old], DATA)
    assert setting == {"time_limit": 600.0, "threads": 2, "seed": 0}
    assert [(r.instance, r.cost, r.source) for r in rows] == [("i01", 3842, "new.json (bbb)"),
                                                             ("i02", 1400, "old.json (aaa)")]
    assert rows[0].gap == 0.0 and rows[0].rank <= 2  # the best known ties the best team
    assert rows[0].places == 33
    summary = ihtc_latest.summary(rows)
    assert summary["instances"] == 2 and summary["in_top_5"] == 1
    text = ihtc_latest.markdown(rows, setting, "bench/ihtc_latest.py ...")
    assert "| i02 | 1400 | 1264 | 10.8% |" in text and "rank of 33" in text


def test_hand_merged_reports_date_each_row(tmp_path: Path) -> None:
    merged = tmp_path / "merged.json"
    merged.write_text(json.dumps({"time_limit": 600.0, "threads": 2, "seed": 0, "commit": "ccc",
                                  "dates": ["2026-11-30T01:00:00+00:00", "2026-11-30T08:00:00+00:00"],
                                  "rows": [row("i01", 3900), row("i02", 1300)]}))
    other = report(tmp_path / "other.json", "2026-11-30T05:00:00+00:00", "ddd", {"i01": 3950, "i02": 1350})
    _, rows = ihtc_latest.latest([merged, other], DATA)
    assert [(r.instance, r.cost) for r in rows] == [("i01", 3950), ("i02", 1300)]


def test_a_rows_own_start_beats_its_reports_date(tmp_path: Path) -> None:
    """A long run's report is dated when it began; each row says when its instance began."""
    long_run = report(tmp_path / "long.json", "2026-11-30T01:00:00+00:00", "eee", {"i01": 3900, "i02": 1300})
    body = json.loads(long_run.read_text())
    body["rows"][1]["started"] = "2026-11-30T09:00:00+00:00"
    long_run.write_text(json.dumps(body))
    between = report(tmp_path / "between.json", "2026-11-30T05:00:00+00:00", "fff",
                     {"i01": 3950, "i02": 1350})
    _, rows = ihtc_latest.latest([long_run, between], DATA)
    assert [(r.instance, r.cost) for r in rows] == [("i01", 3950), ("i02", 1300)]


def test_a_replaced_failure_does_not_matter_but_a_latest_one_is_refused(tmp_path: Path) -> None:
    late = report(tmp_path / "late.json", "2026-11-30T02:00:00+00:00", "aaa", {"i01": 3900}, status="late")
    good = report(tmp_path / "good.json", "2026-11-30T03:00:00+00:00", "bbb", {"i01": 3950})
    assert [r.cost for r in ihtc_latest.latest([late, good], DATA)[1]] == [3950]
    newer = report(tmp_path / "newer.json", "2026-11-30T04:00:00+00:00", "ccc", {"i01": None},
                   status="crashed")
    with pytest.raises(ValueError, match="overran, crashed or broke a hard rule"):
        ihtc_latest.latest([late, good, newer], DATA)


@pytest.mark.parametrize(("content", "message"), [
    ({"rows": []}, "is not a `careflow ihtc bench` JSON report"),
    ({"time_limit": 600.0, "threads": 2, "seed": 0, "commit": "c", "rows": [{"cost": 1}]},
     "needs an instance"),
    ({"time_limit": 600.0, "threads": 2, "seed": 0, "commit": "c", "date": "x",
      "rows": [{"instance": "i01", "cost": 1}]}, "no start date"),
    ({"time_limit": 600.0, "threads": 2, "seed": 0, "commit": "c", "date": "2026-11-30T01:00:00",
      "rows": [{"instance": "test01", "cost": 1}]}, "no best known cost"),
])
def test_a_report_that_is_not_one_is_refused_by_name(tmp_path: Path, content: dict[str, Any],
                                                     message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message):
        ihtc_latest.latest([path], DATA)


def test_another_time_limit_is_refused(tmp_path: Path) -> None:
    a = report(tmp_path / "a.json", "2026-11-30T02:00:00+00:00", "aaa", {"i01": 4000})
    b = report(tmp_path / "b.json", "2026-11-30T03:00:00+00:00", "bbb", {"i02": 1400}, time_limit=60.0)
    with pytest.raises(ValueError, match=r"b\.json ran with"):
        ihtc_latest.latest([a, b], DATA)
