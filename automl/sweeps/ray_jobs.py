"""Runs of a sweep with a Ray address go to that cluster as Ray jobs (``JobSubmissionClient``, ``ray[default]``).

The job's entrypoint is ``automl sweep run SPEC --storage URL --run-id ID``: the same command a CronJob calls, so
the run records itself in the scheduler's storage wherever it runs. The spec (and a space it names by path) must
be readable at the same path on the cluster, and the storage reachable from it (PostgreSQL for a real cluster).
The submission id is derived from the run, so the same run can never be submitted twice.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from automl.errors import AutomlError
from automl.sweeps.spec import SweepSpec, sweep_run_command
from automl.sweeps.state import StateStore
from automl.sweeps.tables import RunRow

TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


class RayJobError(AutomlError):
    """The Ray cluster cannot be reached or refused the job."""


def submission_id(sweep: str, run_id: int) -> str:
    return f"automl-sweep-{sweep}-run-{run_id}"


def client(dashboard: str) -> Any:
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError as exc:
        raise RayJobError(
            f"ray_dashboard {dashboard}: Ray job submission needs ray[default] ({exc}); pip install 'ray[default]'"
        ) from None
    try:
        return JobSubmissionClient(dashboard)
    except Exception as exc:  # the client raises ConnectionError, RuntimeError or ValueError for one cause
        raise RayJobError(
            f"ray_dashboard {dashboard}: cannot reach Ray's job submission API ({str(exc).splitlines()[0][:200]}); "
            "check the address and that the cluster's dashboard is running"
        ) from None


def entrypoint(spec: SweepSpec, run_id: int, state_url: str) -> str:
    return shlex.join(["automl", *sweep_run_command(spec, run_id, state_url)])


def submit(spec: SweepSpec, run_id: int, state_url: str, runtime_env: dict[str, Any] | None = None) -> str:
    """Submit the run as a Ray job; returns its submission id."""
    if spec.ray_dashboard is None:
        raise RayJobError(f"{spec.source}: ray_dashboard: needed to submit a Ray job; give http://HOST:8265")
    job_id = submission_id(spec.name, run_id)
    client(spec.ray_dashboard).submit_job(
        entrypoint=entrypoint(spec, run_id, state_url),
        submission_id=job_id,
        runtime_env=runtime_env,
        metadata={"automl_sweep": spec.name, "automl_run": str(run_id)},
    )
    return job_id


@dataclass(frozen=True)
class JobStatus:
    status: str  # PENDING | RUNNING | SUCCEEDED | FAILED | STOPPED
    message: str

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


def status(dashboard: str, job_id: str) -> JobStatus:
    info = client(dashboard).get_job_info(job_id)
    return JobStatus(str(getattr(info.status, "value", info.status)), str(info.message or ""))


class RayJobHandle:
    def __init__(self, dashboard: str, job_id: str) -> None:
        self.dashboard, self.job_id = dashboard, job_id

    def poll(self) -> str | None:
        job = status(self.dashboard, self.job_id)
        if not job.done:
            return None
        if job.status == "SUCCEEDED":
            return ""
        return f"Ray job {self.job_id} {job.status.lower()}: {job.message.splitlines()[0] if job.message else ''}"

    def stop(self) -> None:
        client(self.dashboard).stop_job(self.job_id)


class RayJobLauncher:
    """The scheduler's launcher for sweeps with a Ray address; the job id is kept in the run's row."""

    def start(self, spec: SweepSpec, run: RunRow, state_url: str) -> RayJobHandle:
        job_id = submit(spec, run.id, state_url)
        StateStore(state_url).update_run(run.id, ray_job=job_id)
        return RayJobHandle(spec.ray_dashboard or "", job_id)
