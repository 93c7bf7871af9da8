"""Off a terminal the output is never silent for long: during a long trial and during the final stage a status
line comes at least every SILENCE_SECONDS (shortened here)."""

from __future__ import annotations

import io
import time

import optuna
import pytest

import automl.job.ticker
from automl.job.progress import Progress, StepLog


@pytest.fixture(autouse=True)
def short_silence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(automl.job.ticker, "SILENCE_SECONDS", 0.3)


def test_a_long_trial_prints_its_epoch_pace_and_time_left() -> None:
    stream = io.StringIO()
    with Progress("s", budget=10, timeout=600, direction="maximize", live=False, stream=stream) as progress:
        progress.on_trial_start(3, {})
        time.sleep(0.2)
        progress.on_epoch(3, 1, {"val_accuracy": 0.5})
        time.sleep(1.0)  # a long second epoch: nothing happens, yet the log speaks
    lines = [line for line in stream.getvalue().splitlines() if "trial 3 running" in line]
    assert len(lines) >= 2
    assert "epoch 1 done" in lines[-1]
    assert "s/epoch" in lines[-1]
    assert "s left" in lines[-1]


def test_no_status_lines_while_output_flows() -> None:
    stream = io.StringIO()
    with Progress("s", budget=10, timeout=None, direction="maximize", live=False, stream=stream) as progress:
        for number in range(7):
            progress.on_trial_start(number, {})
            time.sleep(0.1)
            trial = optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=0.5)
            progress.on_trial_end(None, trial)  # type: ignore[arg-type]
    assert "running" not in stream.getvalue()  # a line every 0.1 s: the ticker had nothing to add


def test_the_final_stage_prints_its_steps_and_a_long_steps_epoch() -> None:
    stream = io.StringIO()
    with StepLog("final", stream=stream) as steps:
        steps.say("retraining member 2 of 3 (19 epochs on 4000 examples)")
        steps.epoch("member 2 of 3", 7, 19)
        time.sleep(0.8)
    text = stream.getvalue()
    assert "[automl] final: retraining member 2 of 3 (19 epochs on 4000 examples)" in text
    assert "[automl] final: member 2 of 3, epoch 7 of 19 (" in text
    assert "left in this step" in text


def test_quiet_prints_nothing() -> None:
    stream = io.StringIO()
    with StepLog("final", stream=stream, quiet=True) as steps:
        steps.say("retraining member 1 of 1")
        time.sleep(0.5)
    assert stream.getvalue() == ""
