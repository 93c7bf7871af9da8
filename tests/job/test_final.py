"""The final stage plans its work from what the search measured and shrinks it, saying how, when the job's time
left cannot hold the full retraining; a whole search with a time budget ends inside it."""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from support import TINY_LIMIT

import automl
import automl.job.pipeline
from automl.job.clock import REPORT_SECONDS
from automl.job.final import finalize
from automl.job.plan import BASELINE_SHARE, REUSE_SECONDS, SAFETY, plan_final, search_epoch_size, seconds_per_epoch
from automl.study.artifacts import kept_models
from automl.study.record import StudyKey, TrialRecord, read_trial
from automl.study.storage import default_storage_url
from automl.study.study_record import read_study


def test_a_plan_that_fits_is_run_in_full() -> None:
    plan = plan_final(members=3, epochs=10, per_epoch=1.0, baseline_epochs=10, time_left=100)
    assert (plan.members, plan.epochs, plan.baseline, plan.note) == (3, 10, True, "")
    assert plan.seconds_per_member == 10
    assert plan.seconds_for_baseline == 10 * BASELINE_SHARE  # a small reference model: a share of a winner's epoch
    # A baseline longer than a member is costed as one member.
    assert plan_final(members=3, epochs=2, per_epoch=1.0, baseline_epochs=20, time_left=None).seconds_for_baseline == 2


def test_without_a_budget_or_a_measurement_the_plan_is_full() -> None:
    assert plan_final(members=3, epochs=10, per_epoch=None, baseline_epochs=10, time_left=1).members == 3
    assert plan_final(members=3, epochs=10, per_epoch=5.0, baseline_epochs=10, time_left=None).members == 3


def test_fewer_members_first() -> None:
    plan = plan_final(members=3, epochs=10, per_epoch=1.0, baseline_epochs=10, time_left=35)  # 31.5 s usable
    assert (plan.members, plan.epochs, plan.baseline) == (2, 10, True)
    assert plan.note.startswith("2 of 3 members retrained: 35 s were left and each member costs about 10 s")


def test_then_no_baseline_and_at_last_one_shorter_member() -> None:
    plan = plan_final(members=3, epochs=10, per_epoch=1.0, baseline_epochs=10, time_left=15)  # 13.5 s usable
    assert (plan.members, plan.epochs, plan.baseline) == (1, 10, True)
    plan = plan_final(members=3, epochs=10, per_epoch=1.0, baseline_epochs=10, time_left=12)  # 10.8 s usable
    assert (plan.members, plan.epochs, plan.baseline) == (1, 10, False)
    assert plan.note == "1 of 3 members retrained and no baseline: 12 s were left and each member costs about 10 s"
    plan = plan_final(members=3, epochs=10, per_epoch=1.0, baseline_epochs=10, time_left=8)  # 7.2 s usable
    assert (plan.members, plan.epochs, plan.baseline) == (1, 7, False)
    assert plan.note == (
        "1 member retrained for 7 of 10 epochs and no baseline: 8 s were left and a full member costs about 10 s"
    )


def test_a_search_epoch_stands_for_its_training_rows_and_a_third_of_its_validation_rows() -> None:
    split = SimpleNamespace(y_train=[0] * 3200, y_val=[0] * 800)
    assert search_epoch_size(split) == pytest.approx(3200 + 800 / 3)
    folds = SimpleNamespace(y_train=[0] * 300, y_val=[0] * 75, cv_folds=5)  # every fold trains, none validates apart
    assert search_epoch_size(folds) == 1500


def test_seconds_per_epoch_scale_to_the_final_training_set() -> None:
    trial = TrialRecord(number=0, state="COMPLETE", value=0.9, params={}, config={}, epochs_trained=4, train_seconds=8)
    assert seconds_per_epoch(trial, train_size=100, final_size=125) == pytest.approx(2.5)
    assert seconds_per_epoch(TrialRecord(0, "COMPLETE", 0.9, {}, {}), 100, 125) is None


SLOW = """
name: slow
model: synthetic
search: {{sampler: random, pruner: none, trials: 100, patience: 100, time_budget: {budget}}}
params:
  learning_rate: {{type: float, low: 0.001, high: 0.1, log: true}}
  units_1:       {{type: int, low: 8, high: 64}}
  epochs:        {{type: fixed, value: 8}}
  sleep:         {{type: fixed, value: {sleep}}}
"""


def test_a_time_budget_covers_the_whole_job_and_the_final_stage_says_what_it_cut(tmp_path: Path) -> None:
    budget, sleep = 15.0, 0.15  # a trial takes 1.2 s; a full final stage (3 members + baseline) about 6 s
    space = tmp_path / "slow.yaml"
    space.write_text(SLOW.format(budget=budget, sleep=sleep))
    started = time.monotonic()
    result = automl.search("mnist", str(space), study="budget", limit=TINY_LIMIT, quiet=True, reports_dir=tmp_path)
    elapsed = time.monotonic() - started
    assert elapsed <= budget * 1.05 + sleep + 1.0  # the budget, one epoch, and the data loading before the clock

    record = read_study(__import__("optuna").load_study(study_name="budget", storage=default_storage_url()))
    assert record.final is not None
    stage = record.final.final_stage
    assert stage["seconds_per_member"] is not None  # planned from the search's own measurement
    summary = (tmp_path / "budget" / "summary.md").read_text()
    assert f"The final stage took {stage['seconds']} s" in summary
    if stage["note"]:  # whether it had to cut depends on how many trials fitted; what it says must match
        assert stage["note"] in summary
        assert stage["note"] == result.final_note
    config = yaml.safe_load((tmp_path / "budget" / "config.yaml").read_text())
    assert config["members"] == stage["members"]


def test_when_little_time_is_left_the_final_stage_shrinks_and_says_so(tmp_path: Path) -> None:
    from automl.job.final import finalize

    space = tmp_path / "slow.yaml"
    # a member costs seconds: more than the 1 s left; no kept models, so this is the retraining path
    space.write_text(SLOW.format(budget=600, sleep=0.3).replace("patience: 100,", "patience: 100, keep_models: 0,"))
    automl.search("mnist", str(space), study="tight", trials=2, limit=TINY_LIMIT, quiet=True, finish=False,
                  reports_dir=tmp_path)  # fmt: skip
    study = __import__("optuna").load_study(study_name="tight", storage=default_storage_url())
    data = automl.job.pipeline.load_study_data("tight", study.user_attrs, data_dir=None)
    steps: list[str] = []
    final = finalize(study, data, tmp_path / "out", time_left=1.0, on_step=steps.append)
    assert final.final_stage["members"] == 1
    # the baseline, a small model costed at a share of the winner's epochs, still fits the 5 s never cut
    assert final.final_stage["baseline"] is True
    assert final.final_stage["note"].startswith("1 of 3 members retrained: 1 s were left")
    assert steps[0] == final.final_stage["note"]
    assert steps[1].startswith("retraining member 1 of 1")
    assert len(final.member_test_values) == 1  # no time for more at the pace measured


def test_when_time_stopped_every_trial_the_best_stopped_one_is_retrained(tmp_path: Path) -> None:
    # Trials of 40 epochs of 0.2 s, each capped at 1.5 s: none can complete, and the job still ends with a model.
    space = tmp_path / "long.yaml"
    capped = SLOW.format(budget=600, sleep=0.2).replace("value: 8}", "value: 40}")
    space.write_text(capped.replace("trials: 100,", "trials: 2, max_trial_seconds: 1.5,"))
    result = automl.search("mnist", str(space), study="stopped", limit=TINY_LIMIT, quiet=True, reports_dir=tmp_path)
    study = __import__("optuna").load_study(study_name="stopped", storage=default_storage_url())
    record = read_study(study)
    assert (result.counts["complete"], result.counts["pruned"]) == (0, 2)
    assert record.final is not None
    assert 1 <= record.final.epochs < 40
    # the winner is the stopped trial whose last reported value is best (the space maximises), not just any trial
    last_values = {t.number: read_trial(t).last_value for t in study.trials}
    assert record.final.best_trial == max(last_values, key=lambda n: last_values[n])
    assert result.test_value is not None


def test_a_trial_too_long_for_the_budget_trains_until_the_end_and_its_kept_model_is_the_final_one(
    tmp_path: Path,
) -> None:
    # One trial of 200 epochs of 0.1 s cannot end within 30 s. The clock holds back only the reuse of its model
    # (the baseline trained before the search), the deadline stops it, and the final stage reuses its kept model
    # rather than retrain a member cut short.
    space = tmp_path / "long.yaml"
    long = SLOW.format(budget=30, sleep=0.1).replace("value: 8}", "value: 200}").replace("trials: 100,", "trials: 1,")
    space.write_text(long)
    started, started_wall = time.monotonic(), time.time()
    automl.search("mnist", str(space), study="long", limit=TINY_LIMIT, quiet=True, reports_dir=tmp_path)
    elapsed = time.monotonic() - started
    study = __import__("optuna").load_study(study_name="long", storage=default_storage_url())
    (frozen,) = study.trials
    trial = read_trial(frozen)
    assert (trial.state, trial.prune_reason) == ("PRUNED", "time budget")
    # The search ended at the job's start + 30 s - the reuse's reserve, not earlier (a member retrained for its
    # epochs, as held before, would have ended it about 10 s sooner); the job started after this test's clock.
    reserve = REUSE_SECONDS / SAFETY + 0.1 + REPORT_SECONDS
    assert frozen.datetime_complete.timestamp() >= started_wall + 30 - reserve
    assert [k.trial for k in kept_models(study)] == [0]  # stopped by the time, its model is kept all the same
    final = read_study(study).final
    assert final is not None and final.best_trial == 0
    assert final.final_stage["baseline"] is False  # trained before the search: the final stage neither ran nor held it
    baseline = study.user_attrs[StudyKey.BASELINE]
    assert final.baseline_test_value == baseline["test_value"]
    assert baseline["label"] == "synthetic baseline (1 layer of 64, Adam, learning rate 0.001)"
    assert elapsed < 30
    summary = (tmp_path / "long" / "summary.md").read_text()
    assert re.search(r"baseline [\d.]+ s, searching [\d.]+ s, final stage [\d.]+ s, report [\d.]+ s", summary)
    # Where retraining it would not fit the time left, the final stage reuses the stopped trial's kept model.
    data = automl.job.pipeline.load_study_data("long", study.user_attrs, data_dir=None)
    again = finalize(study, data, tmp_path / "again", time_left=1.0)
    stage = again.final_stage
    assert (stage["mode"], stage["kept_trials"], stage["retrained_members"]) == ("reuse", [0], 0)


def test_a_baseline_recorded_for_other_data_or_another_metric_is_not_used(tmp_path: Path) -> None:
    import optuna

    from automl.data import load_dataset
    from automl.job.baseline import BaselineRecord, record_baseline, recorded_baseline

    data = load_dataset("mnist", seed=0, limit=TINY_LIMIT)
    other = load_dataset("mnist", seed=1, limit=TINY_LIMIT)
    study = optuna.create_study()
    record_baseline(study, BaselineRecord("b", "accuracy", 0.9, 1.0, data.fingerprint()))
    assert recorded_baseline(study, data, "val_accuracy") == BaselineRecord(
        "b", "accuracy", 0.9, 1.0, data.fingerprint()
    )
    assert recorded_baseline(study, other, "val_accuracy") is None  # other data: the final stage trains its own
    assert recorded_baseline(study, data, "val_loss") is None  # scored in another metric


def test_a_final_stage_of_a_few_seconds_is_never_cut() -> None:
    plan = plan_final(members=1, epochs=5, per_epoch=0.05, baseline_epochs=10, time_left=0)
    assert (plan.members, plan.epochs, plan.baseline, plan.note) == (1, 5, True, "")


def test_a_member_whose_next_epoch_would_end_past_the_stage_stops_there_and_none_follows() -> None:
    from automl.job.final import _retrain
    from automl.models.registry import get_family

    steps: list[str] = []
    config = {"n_layers": 1, "units_1": 16, "learning_rate": 0.01, "epochs": 10, "sleep": 0.2}
    data = SimpleNamespace(y_train=[0] * 8, y_val=[0] * 2)
    members = _retrain(
        get_family("synthetic"), config, data, 10, 0, planned=2, at_most=3, fits_another=lambda took: True,
        say=steps.append, on_epoch=None, ends=time.monotonic() + 1.1,
    )  # fmt: skip
    (member,) = members  # the second planned member never starts
    assert 3 <= member["epochs"] <= 5  # stopped where a next 0.2 s epoch would have ended past 1.1 s
    assert steps[-1] == f"member 1 of 2 stopped after epoch {member['epochs']} of 10: the job's time is running out"


def test_a_member_that_cannot_stop_is_dropped_when_other_models_exist() -> None:
    from automl.job.final import _retrain
    from automl.models.base import TrainingStopped

    class CannotStop:
        def fit_final(self, config: dict, data: object, epochs: int, seed: int, reporter: object) -> dict:
            for epoch in range(1, epochs + 1):
                time.sleep(0.1)
                reporter.report(epoch, {})  # type: ignore[attr-defined]  # lets TrainingStopped through
            return {"epochs": epochs}

    data = SimpleNamespace(y_train=[0] * 8, y_val=[0] * 2)
    args = {"planned": 1, "at_most": 1, "fits_another": lambda took: True, "say": lambda text: None, "on_epoch": None}
    soon = time.monotonic() + 0.25
    assert _retrain(CannotStop(), {}, data, 10, 0, ends=soon, have_others=True, **args) == []  # type: ignore[arg-type]
    with pytest.raises(TrainingStopped):  # the only model there would be: the stage cannot drop it
        _retrain(CannotStop(), {}, data, 10, 0, ends=time.monotonic() + 0.25, **args)  # type: ignore[arg-type]
