"""The fidelity ladder: each trial records the last rung it reached, warm starts run at the top rung, and the
final stage reuses the kept models when retraining would be cut short (and says why)."""

from __future__ import annotations

from pathlib import Path

import optuna
from support import TINY_LIMIT

import automl
import automl.job.pipeline
from automl.job.plan import (
    BASELINE_SHARE,
    REUSE_SECONDS,
    FinalStageEstimate,
    members_that_fit,
    plan_final,
    reuse_or_retrain,
)
from automl.reports.summary import render_summary_md, summary_data
from automl.study.artifacts import kept_models
from automl.study.record import ladder, read_trial, rung_reached
from automl.study.storage import default_storage_url
from automl.study.study_record import read_study

LADDER = """
name: ladder
model: synthetic
search:
  sampler: random
  pruner: asha
  min_epochs: 1
  reduction_factor: 3
  keep_models: {keep}
  trials: {trials}
  patience: 100
  warm_start:
    - {{learning_rate: 0.0011, units_1: 9}}
params:
  learning_rate: {{type: float, low: 0.001, high: 0.1, log: true}}
  units_1:       {{type: int, low: 8, high: 64}}
  epochs:        {{type: fixed, value: 9}}
  sleep:         {{type: fixed, value: {sleep}}}
"""


def test_the_ladder_and_the_rung_reached() -> None:
    assert ladder(2, 3, 30) == (2, 6, 18, 30)
    assert ladder(1, 3, 9) == (1, 3, 9)
    assert ladder(2, 3, 2) == (2,)
    rungs = (2, 6, 18, 30)
    assert rung_reached(rungs, 1, complete=False) is None  # stopped before the first rung
    assert rung_reached(rungs, 6, complete=False) == 1
    assert rung_reached(rungs, 17, complete=False) == 1
    assert rung_reached(rungs, 12, complete=True) == 3  # early stopping ended it: still the top rung
    assert rung_reached((), 5, complete=True) is None


def _search(tmp_path: Path, name: str, trials: int, keep: int, sleep: float = 0.0) -> optuna.Study:
    space = tmp_path / f"{name}.yaml"
    space.write_text(LADDER.format(trials=trials, keep=keep, sleep=sleep))
    automl.search("mnist", str(space), study=name, limit=TINY_LIMIT, quiet=True, finish=False, reports_dir=tmp_path)
    return optuna.load_study(study_name=name, storage=default_storage_url())


def test_each_trial_records_its_rung_and_the_warm_start_enters_at_the_top(tmp_path: Path) -> None:
    study = _search(tmp_path, "rungs", trials=15, keep=0)
    assert study.user_attrs["rungs"] == [1, 3, 9]
    trials = [read_trial(t) for t in study.trials]
    warm = trials[0]
    assert warm.warm_start and warm.state == "COMPLETE" and warm.rung == 2
    assert not any(t.warm_start for t in trials[1:])
    pruned = [t for t in trials if t.state == "PRUNED"]
    assert pruned, "successive halving prunes some of 15 random configurations"
    for t in trials:
        if t.state == "COMPLETE":
            assert t.rung == 2
        elif t.prune_reason == "pruner":
            assert t.rung == [1, 3, 9].index(t.pruned_at_epoch)  # stopped at the rung it did not pass
    data = summary_data(study, None, storage="s", elapsed=1.0, budget={}, split={"searching": 1.0})
    assert sum(data["rungs"].values()) == 15
    assert "15 configurations finished at some rung" in render_summary_md(data)


def test_reuse_when_retraining_would_be_cut_short_else_retrain() -> None:
    fits = plan_final(members=3, epochs=10, per_epoch=1.0, baseline_epochs=10, time_left=100)
    cut = plan_final(members=3, epochs=10, per_epoch=1.0, baseline_epochs=10, time_left=15)
    assert reuse_or_retrain(fits, kept=3, time_left=100)[0] is False
    reuse, why = reuse_or_retrain(cut, kept=3, time_left=15)
    assert reuse and cut.note in why
    assert reuse_or_retrain(cut, kept=0, time_left=15)[0] is False  # nothing kept: retrain what fits
    assert reuse_or_retrain(cut, kept=3, time_left=None)[0] is False


def test_members_are_retrained_beside_the_kept_models_only_when_they_fit_in_full() -> None:
    assert members_that_fit(1, member_cost=50.0, time_left=100.0, other_costs=20.0) == 1  # 90 - 20 >= 50
    assert members_that_fit(1, member_cost=50.0, time_left=70.0, other_costs=20.0) == 0  # 63 - 20 < 50
    assert members_that_fit(3, member_cost=30.0, time_left=100.0, other_costs=20.0) == 2
    assert members_that_fit(0, member_cost=30.0, time_left=100.0, other_costs=20.0) == 0  # none asked for
    assert members_that_fit(1, member_cost=None, time_left=100.0, other_costs=20.0) == 0  # cost unknown
    assert members_that_fit(2, member_cost=30.0, time_left=None, other_costs=20.0) == 2  # no budget


def test_the_search_holds_back_what_the_retrained_member_beside_the_kept_models_costs() -> None:
    """The reserve the search keeps is what the final stage then finds it can spend: one member fits even when a
    trial running at the deadline overran it by an epoch."""
    per_epoch, epochs = 4.0, 25
    estimate = FinalStageEstimate(
        train_size=3200, final_size=4000, members=3, baseline_epochs=10, reuse=True, retrain_members=1
    )
    without = FinalStageEstimate(train_size=3200, final_size=4000, members=3, baseline_epochs=10, reuse=True)
    member = per_epoch * 4000 / 3200 * epochs
    reserve = estimate.reuse_seconds(per_epoch, epochs)
    assert reserve > without.reuse_seconds(per_epoch, epochs) + member
    baseline = per_epoch * 4000 / 3200 * 10 * BASELINE_SHARE
    assert members_that_fit(1, member, reserve - per_epoch, REUSE_SECONDS + baseline) == 1


def test_the_final_stage_reuses_the_kept_models_and_says_why(tmp_path: Path) -> None:
    from automl.job.final import finalize

    # 0.2 s an epoch: a full retraining (3 members and the baseline, ~7 s) is more than the 0.5 s left
    study = _search(tmp_path, "reuse", trials=5, keep=2, sleep=0.2)
    kept = kept_models(study)
    assert 1 <= len(kept) <= 2
    data = automl.job.pipeline.load_study_data("reuse", study.user_attrs, data_dir=None)
    steps: list[str] = []
    final = finalize(study, data, tmp_path / "out", time_left=0.5, on_step=steps.append)
    stage = final.final_stage
    assert stage["mode"] == "reuse" and stage["kept_trials"] == [k.trial for k in kept]
    assert steps[0] == stage["why"] and stage["why"].startswith("reused the")
    assert len(final.member_test_values) == len(kept)
    summary = render_summary_md(
        summary_data(study, final, storage="s", elapsed=3.0, budget={}, split={"searching": 2.0, "final stage": 1.0})
    )
    assert "Why not retrain them all: reused the" in summary
    assert "searching 2 s, final stage 1 s (3 s in all)" in summary
    again = finalize(study, data, tmp_path / "out2", time_left=None)  # no budget: retrain on train+validation
    assert again.final_stage["mode"] == "retrain"
    assert read_study(study).final is not None


def test_export_copies_a_kept_model_without_retraining(tmp_path: Path) -> None:
    from automl.reports.export import export_study

    study = _search(tmp_path, "export", trials=4, keep=2)

    def never(study: object, out: Path) -> None:
        raise AssertionError("export retrained although a kept model exists")

    result = export_study(study, tmp_path / "exported", retrain=never)
    assert not result.retrained and result.model.name == "model.json" and result.model.is_file()
