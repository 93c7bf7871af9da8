"""The searcher over Optuna's ask-and-tell: the same sampling as the Optuna backend, and a retried trial whose
worker process died, recorded as such."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from ray_support import SLEEPY_SPACE, driver_env, search_command, study_trials, wait_for

from automl.backends.base import Deadline, StudyContext
from automl.backends.optuna.objective import make_objective
from automl.backends.ray.searcher import StudySearcher
from automl.backends.ray.trial_ends import DeadlineStopper
from automl.models.base import TrialOutcome
from automl.spaces import parse_space
from automl.study.record import TrialKey
from automl.study.storage import open_storage

# Every parameter kind and option, and every condition operator, on parents that are themselves conditional.
CONTRACT_SPACE = {
    "model": "synthetic",
    "search": {"sampler": "random", "pruner": "none", "trials": 60},
    "params": {
        "n_layers": {"type": "int", "low": 1, "high": 3},
        "units_1": {"type": "int", "low": 8, "high": 64, "log": True},
        "units_2": {"type": "int", "low": 8, "high": 64, "step": 8, "when": "n_layers >= 2"},
        "units_3": {"type": "int", "low": 8, "high": 9, "when": "n_layers > 2"},
        "optimizer": {"type": "categorical", "choices": ["adam", "sgd", "rmsprop"]},
        "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": "optimizer == sgd"},
        "learning_rate": {"type": "float", "low": 1.0e-4, "high": 1.0e-1, "log": True},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.1, "when": "optimizer != adam"},
        "l2": {"type": "float", "low": 0.0, "high": 0.01, "when": "optimizer in [adam, rmsprop]"},
        "batch_size": {"type": "categorical", "choices": [32, 64], "when": "n_layers <= 2"},
        "batch_norm": {"type": "categorical", "choices": [False, True], "when": "n_layers < 2"},
        "epochs": {"type": "fixed", "value": 3},
    },
}


def _structure(trials: list[Any]) -> tuple[dict[str, Any], set[tuple[str, ...]]]:
    """The distributions each parameter was sampled from, and which sets of parameters occurred together."""
    distributions: dict[str, Any] = {}
    for t in trials:
        distributions.update(t.distributions)
    return distributions, {tuple(sorted(t.user_attrs[TrialKey.CONFIG])) for t in trials}


def test_both_backends_sample_the_same_bounds_and_conditions() -> None:
    space = parse_space(CONTRACT_SPACE, source="contract")
    n = 60

    optuna_study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    runner = lambda config, reporter, number: TrialOutcome(0.5, 1, 1)  # noqa: E731
    optuna_study.optimize(make_objective(space, "val_accuracy", runner, Deadline()), n_trials=n)

    ray_study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    context = StudyContext(ray_study, space, space.settings, created=True)
    searcher = StudySearcher(
        context, budget=n, deadline=Deadline(), stopper=DeadlineStopper(Deadline()), max_consecutive_failures=n
    )
    suggestions = [searcher.suggest(f"t{i}") for i in range(n)]
    searcher.close("test over", interrupted=True)

    assert all(
        isinstance(s, dict) and s["config"] == ray_study.trials[i].user_attrs[TrialKey.CONFIG]
        for i, s in enumerate(suggestions)
    )
    optuna_dists, optuna_shapes = _structure(optuna_study.trials)
    ray_dists, ray_shapes = _structure(ray_study.trials)
    assert ray_dists == optuna_dists  # the same kinds, bounds, log scales and steps
    assert ray_dists["units_3"] == optuna.distributions.IntDistribution(8, 9)  # inclusive integer bounds
    assert {v for t in ray_study.trials for k, v in t.params.items() if k == "units_3"} == {8, 9}
    assert ray_shapes == optuna_shapes  # the same conditional structure
    for config in (s["config"] for s in suggestions if isinstance(s, dict)):
        assert ("momentum" in config) == (config["optimizer"] == "sgd")
        assert ("units_3" in config) == (config["n_layers"] > 2)
        assert ("batch_norm" in config) == (config["n_layers"] < 2)
        assert ("l2" in config) == (config["optimizer"] in ("adam", "rmsprop"))
        assert config["epochs"] == 3


def test_the_searcher_stops_at_the_budget_and_never_leaves_a_trial_running() -> None:
    space = parse_space(CONTRACT_SPACE, source="contract")
    study = optuna.create_study(direction="maximize")
    context = StudyContext(study, space, space.settings, created=True)
    searcher = StudySearcher(
        context, budget=2, deadline=Deadline(), stopper=DeadlineStopper(Deadline()), max_consecutive_failures=5
    )
    assert isinstance(searcher.suggest("a"), dict)
    assert isinstance(searcher.suggest("b"), dict)
    assert searcher.suggest("c") is None  # both slots running: wait, one may fail
    epoch = {"epoch": 1, "val_accuracy": float("nan"), "automl_metrics": '{"val_accuracy": NaN}'}
    searcher.on_trial_result("a", epoch)
    searcher.on_trial_complete(
        "a", {**epoch, "automl_outcome": '{"value": NaN, "best_epoch": 1, "epochs_trained": 1, "history": {}}'}
    )
    searcher.flush()  # the record is written off Tune's loop; flush waits for it
    assert study.trials[0].state == TrialState.FAIL  # a NaN told never stays RUNNING
    assert "not a finite number" in study.trials[0].user_attrs[TrialKey.FAIL_REASON]
    searcher.on_trial_complete("b", {"epoch": 1, "val_accuracy": 0.5, "automl_metrics": '{"val_accuracy": 0.5}'})
    searcher.flush()
    assert study.trials[1].state == TrialState.PRUNED  # stopped by the scheduler at epoch 1, not COMPLETE
    assert study.trials[1].user_attrs[TrialKey.PRUNED_AT_EPOCH] == 1
    assert study.trials[1].user_attrs[TrialKey.PRUNE_REASON] == "scheduler"
    assert isinstance(searcher.suggest("c"), dict)  # the failed one is re-planned: budget counts finished trials


def test_close_writes_every_queued_end_and_leaves_no_trial_running(tmp_path: Path) -> None:
    # The record is written off Tune's loop: an end queued before an interrupt keeps its outcome, the trials still
    # running are recorded interrupted, and close() returns only once all of it is in the study (SQLite: the
    # batched transactions of the record writer).
    space = parse_space(CONTRACT_SPACE, source="contract")
    study = optuna.create_study(
        direction="maximize", storage=open_storage(f"sqlite:///{tmp_path / 's.db'}", heartbeat=False)
    )
    context = StudyContext(study, space, space.settings, created=True)
    searcher = StudySearcher(
        context, budget=5, deadline=Deadline(), stopper=DeadlineStopper(Deadline()), max_consecutive_failures=5
    )
    assert isinstance(searcher.suggest("a"), dict) and isinstance(searcher.suggest("b"), dict)
    for tune_id, value in (("a", 0.7), ("b", 0.4)):
        searcher.on_trial_result(
            tune_id, {"epoch": 1, "val_accuracy": value, "automl_metrics": f'{{"val_accuracy": {value}}}'}
        )
    outcome = '{"value": 0.7, "best_epoch": 1, "epochs_trained": 1, "history": {"val_accuracy": [0.7]}}'
    searcher.on_trial_complete("a", {"epoch": 1, "val_accuracy": 0.7, "automl_outcome": outcome})
    searcher.close("interrupted (Ctrl-C or SIGTERM) while running", interrupted=True)

    done, interrupted = study.trials
    assert done.state == TrialState.COMPLETE and done.value == 0.7
    assert done.intermediate_values == {1: 0.7}
    assert interrupted.state == TrialState.FAIL
    assert interrupted.user_attrs[TrialKey.FAIL_REASON].startswith("interrupted")
    assert interrupted.intermediate_values == {1: 0.4}  # its epoch, queued before the interrupt, is kept
    assert interrupted.params and interrupted.user_attrs[TrialKey.CONFIG]  # written at its start
    assert searcher.ran == 2


def test_a_trial_whose_worker_dies_is_retried(ray_cluster, automl_exe: str) -> None:  # noqa: ANN001
    study = "ray-kill"
    cmd = search_command(automl_exe, ray_cluster, study, "--space", str(SLEEPY_SPACE), "--trials", "3")
    proc = subprocess.Popen(
        cmd, env=driver_env(ray_cluster), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:

        def running_worker() -> tuple[int, int] | None:
            for t in study_trials(study):
                if t.state == TrialState.RUNNING and t.user_attrs.get(TrialKey.WORKER) and t.intermediate_values:
                    return t.number, int(t.user_attrs[TrialKey.WORKER].rsplit(":", 1)[1])
            return None

        number, pid = wait_for(running_worker, 120, "a trial running on a worker", proc)
        os.kill(pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]
    trials = {t.number: t for t in study_trials(study)}
    killed = trials[number]
    assert killed.state == TrialState.FAIL
    assert "worker process died" in killed.user_attrs[TrialKey.FAIL_REASON]
    retries = [t for t in trials.values() if t.system_attrs.get(TrialKey.RETRY_OF) == number]
    assert len(retries) == 1
    retry = retries[0]
    assert retry.params == killed.params
    assert retry.state == TrialState.COMPLETE
    assert retry.user_attrs[TrialKey.TUNE_TRIAL_ID] == killed.user_attrs[TrialKey.TUNE_TRIAL_ID]
    assert len(retry.user_attrs[TrialKey.CURVES]["val_accuracy"]) == 6  # the re-run starts from epoch 1
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials.values()) == 3
    assert not [t for t in trials.values() if t.state == TrialState.RUNNING]


def test_the_deadline_stops_running_ray_trials_at_their_next_epoch(ray_cluster, automl_exe: str) -> None:  # noqa: ANN001
    # Trials of 6 epochs at 0.5 s, and 6 s of searching: the trials running at the deadline stop at their next epoch
    # end and are recorded PRUNED for the time budget, never COMPLETE with a partial score and never left RUNNING.
    # (2 s of searching left no epoch reported on a loaded CI machine: Tune's first trials start a second or two in.)
    study = "ray-deadline"
    cmd = search_command(
        automl_exe, ray_cluster, study, "--space", str(SLEEPY_SPACE), "--trials", "20", "--timeout", "6"
    )
    done = subprocess.run(cmd, env=driver_env(ray_cluster), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    trials = study_trials(study)
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    stopped = [t for t in trials if t.user_attrs.get(TrialKey.PRUNE_REASON) == "time budget"]
    assert stopped, [(t.state, t.user_attrs.get(TrialKey.PRUNE_REASON)) for t in trials]
    for t in stopped:
        assert t.state == TrialState.PRUNED
        assert t.user_attrs[TrialKey.PRUNED_AT_EPOCH] <= 6
        assert len(t.user_attrs[TrialKey.CURVES]["val_accuracy"]) == t.user_attrs[TrialKey.PRUNED_AT_EPOCH]
    # Stopped at or before their last epoch (6): on CI, with the other test process training beside the cluster,
    # Tune delivered the trials' results late enough that every running trial reached epoch 6 before the driver
    # saw the deadline (twice in a row on 2026-12-06); the stop is still recorded as the time budget's.
