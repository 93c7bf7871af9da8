"""The progress display: a live panel on a terminal, plain lines elsewhere, both with the same facts."""

from __future__ import annotations

import io

import optuna

from automl.job.progress import Progress
from automl.study.record import TrialKey


def finished_trial(study: optuna.Study, value: float, epoch: int) -> optuna.trial.FrozenTrial:
    trial = study.ask()
    trial.set_user_attr(TrialKey.BEST_EPOCH, epoch)
    study.tell(trial, value)
    return study.trials[-1]


def test_plain_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    study = optuna.create_study(direction="maximize")
    with Progress("s", budget=5, timeout=60, direction="maximize", stream=stream) as progress:
        assert not progress.live  # a StringIO is not a terminal
        progress.on_trial_start(0, {})
        progress.on_epoch(0, 1, {"val_accuracy": 0.5})
        progress.on_trial_end(study, finished_trial(study, 0.91, 3))
        progress.on_trial_end(study, finished_trial(study, 0.85, 2))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[automl] trial 0 complete value=0.9100 at epoch 3 | trials 1/5")
    assert "best 0.9100" in lines[1]
    assert "trials 2/5" in lines[1]
    assert "s left" in lines[1]


def test_pruned_and_failed_trials_say_where_and_why() -> None:
    stream = io.StringIO()
    study = optuna.create_study(direction="maximize")
    with Progress("s", budget=None, timeout=None, direction="maximize", stream=stream) as progress:
        trial = study.ask()
        trial.set_user_attr(TrialKey.PRUNED_AT_EPOCH, 4)
        trial.set_user_attr(TrialKey.PRUNE_REASON, "time budget")
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        progress.on_trial_end(study, study.trials[-1])
        trial = study.ask()
        trial.set_user_attr(TrialKey.FAIL_REASON, "loss became nan at epoch 2; training diverged")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        progress.on_trial_end(study, study.trials[-1])
    pruned, failed = stream.getvalue().splitlines()
    assert pruned.startswith("[automl] trial 0 pruned at epoch 4 (time budget) | trials 1 (pruned 1, failed 0)")
    assert failed.startswith("[automl] trial 1 fail loss became nan at epoch 2; training diverged |")


def test_live_panel_shows_the_running_trial_and_epoch() -> None:
    stream = io.StringIO()
    progress = Progress("live-study", budget=None, timeout=None, direction="maximize", live=True, stream=stream)
    with progress:
        progress.on_trial_start(4, {})
        progress.on_epoch(4, 2, {"val_accuracy": 0.75, "loss": 0.5})
        panel = progress._panel()
    assert "trial 4 running: epoch 2 done" in panel.renderable
    assert "val_accuracy=0.7500" in panel.renderable
    assert "automl search - live-study" in stream.getvalue()


def test_resume_counts_earlier_trials() -> None:
    study = optuna.create_study(direction="minimize")
    finished_trial(study, 0.3, 1)
    finished_trial(study, 0.2, 1)
    progress = Progress("s", budget=10, timeout=None, direction="minimize", stream=io.StringIO())
    progress.resume_from(study)
    assert progress.done_before == 2
    assert progress.best == 0.2
    assert progress.status_line().startswith("trials 2/10")
