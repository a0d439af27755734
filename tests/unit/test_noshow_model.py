"""The no-show model: trained on synthetic appointments in seconds, saved with its governance
metadata, refused when tampered with, judged for calibration, fairness and drift."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.noshow import synthetic_appointments

from careflow.cli import main
from careflow.domain.errors import InvalidRequest
from careflow.predict.noshow_data import fingerprint, prepare
from careflow.predict.noshow_evaluation import drift, evaluate
from careflow.predict.noshow_file import load_model, save_model
from careflow.predict.noshow_governance import train
from careflow.predict.noshow_metrics import calibration_table, fairness
from careflow.predict.noshow_model import NoShowModel
from careflow.predict.ports import AppointmentFacts, NoShowPredictor

RAW = synthetic_appointments(rows=5000, days=14, seed=3)
TRAIN_RAW = RAW[RAW["AppointmentDay"].str[:10] <= "2016-05-13"]
RECENT_RAW = RAW[RAW["AppointmentDay"].str[:10] > "2016-05-13"]
FACTS = AppointmentFacts(lead_days=30, weekday=2, hour_booked=10, reminder_sent=False, age=25, area="CENTRO",
                         prior_appointments=3, prior_no_shows=2, days_since_last=4)


@pytest.fixture(scope="module")
def model() -> NoShowModel:
    return train(prepare(TRAIN_RAW), "synthetic.csv", threads=1)


@pytest.fixture(scope="module")
def saved(model: NoShowModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("noshow") / "model.json"
    save_model(model, path)
    return path


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["careflow", *args], int(exited.value.code or 0), out, err)


def test_a_trained_model_implements_the_predictor_port_and_explains_itself(model: NoShowModel) -> None:
    assert isinstance(model, NoShowPredictor)
    assert 0.0 < model.probability(FACTS) < 1.0
    reasons = model.explain(FACTS)
    assert reasons and {name for name, _ in reasons} <= set(model.metadata["features"])
    assert [abs(v) for _, v in reasons] == sorted((abs(v) for _, v in reasons), reverse=True)


def test_a_long_lead_and_a_habit_of_missing_raise_the_risk(model: NoShowModel) -> None:
    safe = AppointmentFacts(lead_days=0, weekday=2, hour_booked=10, reminder_sent=False, age=70,
                            area="CENTRO", prior_appointments=3, prior_no_shows=0, days_since_last=4)
    assert model.probability(FACTS) > model.probability(safe) + 0.2


def test_the_model_separates_no_shows_on_later_days(model: NoShowModel) -> None:
    result = drift(model, prepare(RAW))
    assert result.recent["roc_auc"] > 0.7


def test_metadata_holds_version_fingerprint_window_features_metrics_and_card(model: NoShowModel) -> None:
    meta = model.metadata
    digest = fingerprint(prepare(TRAIN_RAW))
    assert meta["version"] == f"noshow-20160513-{digest[:8]}"
    assert meta["training_data"]["fingerprint"] == f"sha256:{digest}"
    window = (meta["training_data"]["first_day"], meta["training_data"]["last_day"])
    assert window == ("2016-05-02", "2016-05-13")
    assert {"roc_auc", "pr_auc", "brier", "base_rate_brier"} <= set(meta["validation"]["metrics"])
    assert {"lightgbm", "scikit-learn", "pandas", "numpy", "python"} <= set(meta["libraries"])
    for heading in ("## Intended use", "## Training data", "CC BY-NC-SA", "## Fairness", "## Limits"):
        assert heading in meta["card"]


def test_the_fingerprint_changes_with_the_data_and_not_with_row_order() -> None:
    frame = prepare(TRAIN_RAW)
    changed = TRAIN_RAW.copy()
    changed.loc[changed.index[0], "No-show"] = "No" if changed["No-show"].iloc[0] == "Yes" else "Yes"
    assert fingerprint(frame) == fingerprint(prepare(TRAIN_RAW.iloc[::-1]))
    assert fingerprint(frame) != fingerprint(prepare(changed))


def test_training_twice_with_the_same_seed_gives_the_same_model(model: NoShowModel) -> None:
    again = train(prepare(TRAIN_RAW), "synthetic.csv", threads=1)
    assert again.probability(FACTS) == model.probability(FACTS)


def test_a_saved_model_loads_with_the_same_predictions_and_metadata(model: NoShowModel, saved: Path) -> None:
    loaded = load_model(saved)
    assert loaded.version == model.version
    assert loaded.metadata == json.loads(json.dumps(model.metadata))
    frame = prepare(RECENT_RAW)
    np.testing.assert_allclose(loaded.score(frame), model.score(frame), rtol=1e-12)
    assert loaded.probability(FACTS) == pytest.approx(model.probability(FACTS), rel=1e-12)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["metadata"]["validation"]["metrics"].update(roc_auc=0.99), "changed after it was saved"),
    (lambda d: d.update(booster=d["booster"].replace("leaf_value=", "leaf_value=1", 1)), "changed after"),
    (lambda d: d.update(format="careflow.noshow/99"), "not a careflow no-show model"),
])
def test_a_tampered_or_unknown_model_file_is_refused(saved: Path, tmp_path: Path, change: object,
                                                     message: str) -> None:
    document = json.loads(saved.read_text())
    change(document)  # type: ignore[operator]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    with pytest.raises(InvalidRequest, match=message):
        load_model(bad)


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "model.json"
    bad.write_bytes(b"\x80\x04 pickle")
    with pytest.raises(InvalidRequest, match=r"cannot read|not JSON"):
        load_model(bad)


def test_scores_of_earlier_days_ignore_outcomes_of_later_days(model: NoShowModel) -> None:
    frame = prepare(RAW)
    flipped = RAW.copy()
    later = flipped["AppointmentDay"].str[:10] >= "2016-05-16"
    flipped.loc[later, "No-show"] = flipped.loc[later, "No-show"].map({"Yes": "No", "No": "Yes"})
    up_to = ~later.to_numpy()
    np.testing.assert_array_equal(model.score(frame)[up_to], model.score(prepare(flipped))[up_to])


def test_the_calibration_table_covers_every_row_in_bins_of_a_tenth() -> None:
    p = np.array([0.05, 0.15, 0.16, 0.95, 1.0])
    table = calibration_table(np.array([0, 0, 1, 1, 1]), p)
    assert [(row["low"], row["rows"]) for row in table] == [(0.0, 1), (0.1, 2), (0.9, 2)]
    assert table[1]["observed"] == 0.5 and table[1]["predicted"] == pytest.approx(0.155)


def test_fairness_reports_error_rates_by_sex_and_age_band_with_unknown_ages() -> None:
    raw = synthetic_appointments(rows=600, days=4)
    raw.loc[raw.index[:5], "Age"] = -1
    frame = prepare(raw)
    p = np.where(frame["no_show"] == 1, 0.6, 0.1)
    p[:20] = 0.9  # some false positives
    groups = {(g["attribute"], g["group"]): g for g in fairness(frame, p, threshold=0.5)}
    assert {("sex", "F"), ("sex", "M"), ("age band", "unknown"), ("age band", "65+")} <= set(groups)
    assert sum(g["rows"] for (a, _), g in groups.items() if a == "age band") == len(frame)
    assert not any(g["fnr"] > 0 for g in groups.values())  # NaN where a group has no no-show
    assert any(g["fpr"] > 0 for g in groups.values())


def test_drift_is_flagged_when_the_outcomes_no_longer_follow_the_model(model: NoShowModel) -> None:
    since = pd.Timestamp("2016-05-16").date()
    same = drift(model, prepare(RAW), since=since)
    assert not same.drifted, same.flags
    assert same.days[0] == "2016-05-16"
    later = RAW["AppointmentDay"].str[:10] >= "2016-05-16"
    reversed_ = RAW.copy()
    reversed_.loc[later, "No-show"] = reversed_.loc[later, "No-show"].map({"Yes": "No", "No": "Yes"})
    degraded = drift(model, prepare(reversed_), since=since)
    assert degraded.drifted
    assert any("ROC AUC" in flag for flag in degraded.flags)
    assert any("calibration" in flag or "mean predicted" in flag for flag in degraded.flags)


def test_evaluate_trains_before_the_split_and_tests_after_it() -> None:
    result = evaluate(prepare(RAW), pd.Timestamp("2016-05-16").date(), threads=1)
    assert result.train_days == ("2016-05-02", "2016-05-13")
    assert result.test_days[0] == "2016-05-16"
    assert result.metrics["brier"] < result.metrics["base_rate_brier"]


def write(tmp_path: Path, frame: pd.DataFrame, name: str = "data.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("content", "message"), [
    (lambda raw: raw.drop(columns=["ScheduledDay"]), "missing column(s) ScheduledDay"),
    (lambda raw: raw.assign(AppointmentDay=["2016-13-45", *raw["AppointmentDay"].iloc[1:]]),
     "AppointmentDay is not a date in row 1"),
    (lambda raw: raw.assign(**{"No-show": "maybe"}), "No-show must be Yes or No"),
])
def test_a_bad_csv_is_one_line_with_exit_2_and_nothing_written(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, content: object, message: str) -> None:
    data = write(tmp_path, content(TRAIN_RAW.head(50)))  # type: ignore[operator]
    result = in_process(capsys, "noshow", "train", "--data", str(data), "--out", str(tmp_path / "m.json"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "m.json").exists()


def test_an_unreadable_data_or_model_file_is_one_line_with_exit_2(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    garbage = tmp_path / "data.csv.gz"
    garbage.write_bytes(b"not gzip at all")
    for args in (["train", "--data", str(garbage), "--out", str(tmp_path / "m.json")],
                 ["score", "--model", str(tmp_path / "none.json"), "--data", str(garbage),
                  "--out", str(tmp_path / "p.csv")],
                 ["evaluate", "--data", str(garbage), "--split-date", "2016-02-30"]):
        result = in_process(capsys, "noshow", *args)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv.gz"]


def test_score_writes_one_probability_per_appointment(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, saved: Path) -> None:
    data = write(tmp_path, RECENT_RAW.drop(columns=["No-show"]))
    out = tmp_path / "predictions.csv"
    result = in_process(capsys, "noshow", "score", "--model", str(saved), "--data", str(data),
                        "--out", str(out))
    assert result.returncode == 0, result.stderr
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["AppointmentID", "probability"]
    assert scored["AppointmentID"].tolist() == RECENT_RAW["AppointmentID"].tolist()
    assert scored["probability"].between(0, 1).all()


def test_drift_on_the_command_line_exits_1_when_flagged(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, saved: Path) -> None:
    reversed_ = RECENT_RAW.assign(**{"No-show": RECENT_RAW["No-show"].map({"Yes": "No", "No": "Yes"})})
    data = write(tmp_path, reversed_)
    result = in_process(capsys, "noshow", "drift", "--model", str(saved), "--data", str(data), "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["drifted"] is True


def test_drift_json_is_strict_with_null_where_the_roc_auc_cannot_be_computed(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, saved: Path) -> None:
    data = write(tmp_path, RECENT_RAW.assign(**{"No-show": "No"}))  # one outcome only: no ROC AUC

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in --json output")

    result = in_process(capsys, "noshow", "drift", "--model", str(saved), "--data", str(data), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout, parse_constant=refuse)
    assert report["recent"]["roc_auc"] is None and report["recent"]["pr_auc"] is None
    assert any("cannot be computed" in flag for flag in report["flags"])


def test_train_then_card_and_evaluate_with_a_reliability_plot_on_the_command_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = write(tmp_path, RAW)
    model_file, card, plot = tmp_path / "model.json", tmp_path / "card.md", tmp_path / "reliability.png"
    trained = in_process(capsys, "noshow", "train", "--data", str(data), "--out", str(model_file),
                         "--threads", "1")
    assert trained.returncode == 0, trained.stderr
    assert load_model(model_file).metadata["training_data"]["source"] == "data.csv"
    carded = in_process(capsys, "noshow", "card", "--model", str(model_file), "--out", str(card))
    assert carded.returncode == 0, carded.stderr
    assert card.read_text().startswith("# Model card: noshow-20160519-")
    evaluated = in_process(capsys, "noshow", "evaluate", "--data", str(data), "--split-date", "2016-05-16",
                           "--plot", str(plot), "--threads", "1", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["test_days"] == ["2016-05-16", "2016-05-19"]
    assert {"roc_auc", "pr_auc", "brier", "base_rate_brier"} <= set(report["metrics"])
    assert {g["attribute"] for g in report["fairness"]} == {"sex", "age band"}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
