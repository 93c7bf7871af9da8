"""An interrupted Ray search resumes by continuing its study: Ctrl-C records the running trials as interrupted;
a killed driver's trials are marked "driver lost" on resume and re-run; finished trials are neither lost nor
duplicated, and --trials stays the study's total."""

from __future__ import annotations

import signal
import subprocess

from optuna.trial import TrialState
from ray_support import SLEEPY_SPACE, driver_env, search_command, study_trials, wait_for

from automl.study.record import TrialKey

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
BUDGET = 5


def _start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finished_and_running() -> tuple[list, list] | None:
    trials = study_trials("ray-resume")
    finished = [t for t in trials if t.state in FINISHED]
    running = [t for t in trials if t.state == TrialState.RUNNING and t.intermediate_values]
    return (finished, running) if finished and running else None


def test_an_interrupted_search_resumes_without_losing_or_duplicating_trials(ray_cluster, automl_exe: str) -> None:  # noqa: ANN001
    cmd = search_command(automl_exe, ray_cluster, "ray-resume", "--space", str(SLEEPY_SPACE), "--trials", str(BUDGET))
    env = driver_env(ray_cluster)

    # 1. Ctrl-C: exit 130, the running trials recorded as interrupted, none left RUNNING.
    proc = _start(cmd, env)
    try:
        wait_for(_finished_and_running, 120, "a finished and a running trial", proc)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out[-3000:]
    assert "study ray-resume: interrupted; run the same command to resume it" in out, out[-3000:]
    after_interrupt = study_trials("ray-resume")
    assert not [t for t in after_interrupt if t.state == TrialState.RUNNING]
    interrupted = [t for t in after_interrupt if t.state == TrialState.FAIL]
    assert interrupted
    assert all("interrupted" in t.user_attrs[TrialKey.FAIL_REASON] for t in interrupted)
    kept = {t.number: t.params for t in after_interrupt if t.state in FINISHED}

    # 2. The driver killed outright: its running trials stay RUNNING in the study...
    proc = _start(cmd, env)
    try:
        wait_for(
            lambda: (r := _finished_and_running()) and len(r[0]) > len(kept) and r, 120, "progress after resuming", proc
        )
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    orphans = [t for t in study_trials("ray-resume") if t.state == TrialState.RUNNING]
    assert orphans
    kept.update({t.number: t.params for t in study_trials("ray-resume") if t.state in FINISHED})

    # 3. ...until the next run marks them "driver lost", re-runs them and completes the budget exactly.
    proc = _start(cmd, env)
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out[-3000:]
    trials = {t.number: t for t in study_trials("ray-resume")}
    assert not [t for t in trials.values() if t.state == TrialState.RUNNING]
    assert sum(t.state in FINISHED for t in trials.values()) == BUDGET
    for number, params in kept.items():  # nothing finished was lost or changed
        assert trials[number].state in FINISHED
        assert trials[number].params == params
    for orphan in orphans:
        lost = trials[orphan.number]
        assert lost.state == TrialState.FAIL
        assert lost.user_attrs[TrialKey.FAIL_REASON].startswith("driver lost")
        reruns = [t for t in trials.values() if t.system_attrs.get(TrialKey.RETRY_OF) == orphan.number]
        assert len(reruns) == 1
        assert reruns[0].params == orphan.params
    for t in trials.values():
        if t.state in FINISHED:
            assert t.user_attrs[TrialKey.CURVES]["val_accuracy"]
            assert len(t.intermediate_values) == len(t.user_attrs[TrialKey.CURVES]["val_accuracy"])
