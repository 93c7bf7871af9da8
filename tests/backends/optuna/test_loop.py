"""The Optuna backend's trial loop on the synthetic family: the consecutive-failure cap, values a family returns,
and the deadline, which stops a running trial at its next epoch end and records it."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from support import FIXTURES

from automl.backends.base import Deadline
from automl.backends.callbacks import SearchCallback
from automl.backends.optuna import make_objective, run
from automl.errors import SearchAborted
from automl.models import TrialOutcome
from automl.models.synthetic import Synthetic
from automl.spaces import load_space, parse_space
from automl.study.record import TrialKey, read_trial

SPACE = load_space(str(FIXTURES / "tiny_synthetic.yaml"))


def slow_space(sleep: float, epochs: int) -> Any:
    return parse_space(
        {
            "model": "synthetic",
            "search": {"pruner": "none", "patience": 100},
            "params": {
                "learning_rate": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
                "units_1": {"type": "int", "low": 8, "high": 64},
                "epochs": {"type": "fixed", "value": epochs},
                "sleep": {"type": "fixed", "value": sleep},
            },
        }
    )


def synthetic_runner(space: Any) -> Any:
    family = Synthetic()

    def runner(config: dict[str, Any], reporter: Any, number: int) -> TrialOutcome:
        _, own = space.family_of(config)
        return family.train(own, None, reporter, metric="val_accuracy", direction="maximize", patience=100, seed=number)

    return runner


def test_a_run_of_failures_stops_the_search_with_a_clear_message() -> None:
    study = optuna.create_study(direction="maximize")

    def broken_model(*args: object) -> TrialOutcome:
        raise MemoryError("out of memory")

    objective = make_objective(SPACE, "val_accuracy", broken_model, Deadline())
    with pytest.raises(SearchAborted, match="3 trials in a row failed \\(last: MemoryError: out of memory\\)"):
        run(study, objective, budget=20, deadline=Deadline(), max_consecutive_failures=3)
    assert len(study.trials) == 3


def test_a_numpy_scalar_score_is_a_number() -> None:
    study = optuna.create_study(direction="maximize")

    def numpy_model(*args: object) -> TrialOutcome:
        return TrialOutcome(value=np.float32(0.75), best_epoch=1, epochs_trained=1)  # type: ignore[arg-type]

    run(study, make_objective(SPACE, "val_accuracy", numpy_model, Deadline()), budget=2, deadline=Deadline())
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert study.best_value == pytest.approx(0.75)


def test_a_non_finite_score_fails_the_trial_with_its_reason() -> None:
    study = optuna.create_study(direction="maximize")

    def nan_model(*args: object) -> TrialOutcome:
        return TrialOutcome(value=float("nan"), best_epoch=1, epochs_trained=1)

    objective = make_objective(SPACE, "val_accuracy", nan_model, Deadline())
    with pytest.raises(SearchAborted):
        run(study, objective, budget=1, deadline=Deadline(), max_consecutive_failures=2)
    assert all(read_trial(t).fail_reason.startswith("the objective returned nan") for t in study.trials)


def test_the_deadline_stops_a_running_trial_at_its_next_epoch_and_records_it(tmp_path: Path) -> None:
    sleep, epochs, timeout = 0.3, 40, 2.0
    space = slow_space(sleep, epochs)
    study = optuna.create_study(direction="maximize", storage=f"sqlite:///{tmp_path / 's.db'}")
    deadline = Deadline.after(timeout)
    started = time.monotonic()
    run(study, make_objective(space, "val_accuracy", synthetic_runner(space), deadline), budget=None, deadline=deadline)
    elapsed = time.monotonic() - started

    assert elapsed <= timeout + sleep + 0.5  # the search overruns its timeout by at most one epoch (+ bookkeeping)
    (trial,) = study.trials  # one 12 s trial was running when the 2 s deadline passed
    record = read_trial(trial)
    assert record.state == "PRUNED"  # never COMPLETE with a partial score, never left RUNNING
    assert record.prune_reason == "time budget"
    assert record.pruned_at_epoch == record.epochs_trained == len(record.curves["val_accuracy"])
    assert 1 <= record.pruned_at_epoch < epochs


def test_a_per_trial_cap_stops_each_trial_and_the_search_goes_on() -> None:
    space = slow_space(0.1, 30)
    study = optuna.create_study(direction="maximize")
    deadline = Deadline(max_trial_seconds=0.45)
    run(study, make_objective(space, "val_accuracy", synthetic_runner(space), deadline), budget=3, deadline=deadline)
    records = [read_trial(t) for t in study.trials]
    assert [r.state for r in records] == ["PRUNED"] * 3
    assert all(r.prune_reason == "trial time cap" and r.pruned_at_epoch is not None for r in records)
    assert all(r.pruned_at_epoch < 30 for r in records)  # type: ignore[operator]
    assert {TrialKey.CONFIG, TrialKey.CURVES} <= set(study.trials[0].user_attrs)


def test_an_interrupt_a_callback_swallowed_still_stops_the_trial_at_the_next_epoch() -> None:
    from automl import interrupts

    space = slow_space(0.0, 10)
    study = optuna.create_study(direction="maximize")

    class SwallowAnInterrupt(SearchCallback):
        def on_epoch(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
            if epoch == 2:
                # As Python does inside a weakref or GC callback: the KeyboardInterrupt is printed and lost.
                with contextlib.suppress(KeyboardInterrupt):
                    interrupts.handle_signal(2, None)

    objective = make_objective(
        space, "val_accuracy", synthetic_runner(space), Deadline(), callbacks=[SwallowAnInterrupt()]
    )
    try:
        with pytest.raises(KeyboardInterrupt):
            run(study, objective, budget=5, deadline=Deadline())
    finally:
        interrupts.clear()
    (trial,) = study.trials
    record = read_trial(trial)
    assert record.state == "FAIL"
    assert record.fail_reason.startswith("interrupted")
    assert len(record.curves["val_accuracy"]) == 2  # stopped at the epoch after the lost interrupt


@pytest.mark.parametrize("pruner", ["none", "median"])
def test_a_trial_written_at_its_end_has_every_field_one_written_as_it_went_has(tmp_path: Path, pruner: str) -> None:
    # The loop holds a trial's attributes back and writes them in one transaction as it ends; readers must find
    # every field the per-key writes of the previous version left (study.optimize holds nothing back).
    from dataclasses import replace

    from automl.backends.optuna.attrs import TrialAttrs
    from automl.study.storage import open_storage

    space = replace(SPACE, settings=replace(SPACE.settings, pruner=pruner))
    storage = open_storage(f"sqlite:///{tmp_path / 'studies.db'}")

    def new_study(name: str) -> optuna.Study:
        pruner_ = optuna.pruners.MedianPruner(n_startup_trials=2) if pruner == "median" else optuna.pruners.NopPruner()
        sampler = optuna.samplers.RandomSampler(seed=0)
        return optuna.create_study(
            study_name=name, storage=storage, direction="maximize", sampler=sampler, pruner=pruner_
        )

    before, now = new_study("before"), new_study("now")
    before.optimize(make_objective(space, "val_accuracy", synthetic_runner(space), Deadline()), n_trials=12)
    attrs = TrialAttrs()
    run(now, make_objective(space, "val_accuracy", synthetic_runner(space), Deadline(), attrs=attrs), budget=12,
        deadline=Deadline(), attrs=attrs)  # fmt: skip

    assert {t.state for t in now.trials} >= ({TrialState.PRUNED} if pruner == "median" else {TrialState.COMPLETE})
    for old, new in zip(before.trials, now.trials, strict=True):
        assert (old.state, old.params, old.intermediate_values) == (new.state, new.params, new.intermediate_values)
        assert set(new.user_attrs) == set(old.user_attrs) | {TrialKey.WORKER}
        unchanged = {k: v for k, v in old.user_attrs.items() if k != TrialKey.TRAIN_SECONDS}
        assert unchanged.items() <= new.user_attrs.items()
