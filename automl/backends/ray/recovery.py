"""Trials a killed driver left RUNNING: marked failed ("driver lost") and queued to run again on resume.

Only the driver writes the study, so a killed driver (SIGKILL, a lost machine) leaves its running trials RUNNING.
Each Ray trial records its driver (``host:pid``) and the driver beats for it. A trial is lost when its driver's
process is gone from this machine, or its heartbeat is older than the storage's grace period (a driver elsewhere).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket

import optuna
from optuna.trial import TrialState

from automl.study import optuna_compat as compat
from automl.study.record import RUN_KEYS, TrialKey

log = logging.getLogger(__name__)

DRIVER_KEY = "ray_driver"  # system attribute: host:pid of the driver that runs the trial


def this_driver() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process holds the pid
        return True
    return True


def _driver_gone(driver: str, stale: bool) -> bool:
    host, _, pid = driver.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return int(pid) != os.getpid() and not _pid_alive(int(pid))
    return stale


def recover_lost_trials(study: optuna.Study) -> list[int]:
    """Fail the Ray trials of dead drivers and queue their re-runs (same parameters, linked by ``failed_trial``).
    Call it holding the study's lock. Returns the numbers of the trials it failed."""
    storage = compat.storage_of(study)
    try:
        stale = set(compat.stale_trial_ids(storage, compat.study_id(study)))
    except Exception:  # storages without heartbeats: only the pid check applies
        stale = set()
    lost: list[int] = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        driver = trial.system_attrs.get(DRIVER_KEY)
        if driver is None or not _driver_gone(str(driver), compat.trial_id(trial) in stale):
            continue  # an Optuna worker's trial (its own heartbeats rule it), or a live driver's
        trial_id = compat.trial_id(trial)
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            storage.set_trial_user_attr(trial_id, TrialKey.FAIL_REASON, f"driver lost ({driver} stopped while running)")
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
            retry = optuna.trial.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs={k: v for k, v in trial.user_attrs.items() if k not in RUN_KEYS},
                system_attrs={TrialKey.RETRY_OF: trial.number},
            )
            study.add_trial(retry)
            lost.append(trial.number)
    if lost:
        log.info("study %s: trial(s) %s of a lost driver marked failed and queued again", study.study_name, lost)
    return lost
