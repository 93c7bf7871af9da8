"""A sweep with a Ray address goes to a real local Ray cluster through the job submission API, and the
scheduler tracks the job until it finishes. The cluster is this test's own (its temp dir, free ports) and is
stopped by its own processes, never `ray stop`, which would stop every Ray process of the user."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest
from sweep_helpers import REPO_ROOT, FakeClock, write_spec

from automl.sweeps import ray_jobs
from automl.sweeps.scheduler import Scheduler
from automl.sweeps.spec import load_spec
from automl.sweeps.state import StateStore


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class RealTimeClock(FakeClock):
    """Controllable for the schedule, but waiting really passes: the Ray job runs in real time."""

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
        super().sleep(seconds)


@pytest.fixture
def ray_cluster(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # this process's job client too
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    gcs, dashboard, client, node_manager, object_manager, agent, agent_grpc, runtime_env, metrics = free_ports(9)
    ray = str(Path(sys.executable).parent / "ray")
    env = {
        **os.environ,
        # The job's `automl sweep run` must find this checkout and this virtual environment's console script.
        "PYTHONPATH": str(REPO_ROOT),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AUTOML_HOME": str(isolated_home),
        "AUTOML_OFFLINE": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        # Ray >= 2.5x turns on token auth for a new local cluster and writes ~/.ray/auth_token, which would then
        # switch on token auth for every other Ray client of this user. A loopback test cluster needs none.
        "RAY_AUTH_MODE": "disabled",
    }
    command = [
        ray, "start", "--head", "--port", str(gcs), "--num-cpus", "1", "--dashboard-port", str(dashboard),
        "--temp-dir", temp_dir, "--include-dashboard", "true", "--dashboard-host", "127.0.0.1",
        "--ray-client-server-port", str(client), "--node-manager-port", str(node_manager),
        "--object-manager-port", str(object_manager), "--dashboard-agent-listen-port", str(agent),
        "--dashboard-agent-grpc-port", str(agent_grpc), "--runtime-env-agent-port", str(runtime_env),
        "--metrics-export-port", str(metrics), "--disable-usage-stats",
    ]  # fmt: skip
    started = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        yield f"http://127.0.0.1:{dashboard}"
    finally:
        _stop_own_cluster(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _stop_own_cluster(temp_dir: str) -> None:
    """Terminate the processes whose command line names this cluster's temp dir (its GCS, raylet, dashboard,
    agents and workers all do), then kill what is left."""
    mine = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(temp_dir in part for part in proc.info["cmdline"] or ()):
                mine.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    for proc in mine:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(mine, timeout=15)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def test_a_sweep_with_a_ray_address_runs_as_a_ray_job_and_is_tracked_to_the_end(
    tmp_path: Path, ray_cluster: str
) -> None:
    spec_path = write_spec(
        tmp_path / "sweeps", "onray", schedule="* * * * *", ray_address="127.0.0.1:1", ray_dashboard=ray_cluster,
        trials=3, limit=600, storage=f"sqlite:///{tmp_path / 'studies.db'}", reports=str(tmp_path / "reports"),
    )  # fmt: skip
    spec = load_spec(spec_path)
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    clock = RealTimeClock(datetime.now(UTC).replace(second=0, microsecond=0))
    scheduler = Scheduler(state, lambda: [spec], clock=clock, poll_seconds=2)
    scheduler.tick()  # first sight of the sweep
    clock.advance(minutes=1, seconds=1)
    report = scheduler.run_once(max_wait_seconds=300)
    (run,) = state.runs("onray")
    assert [r.id for r in report.started] == [run.id]
    assert run.ray_job == ray_jobs.submission_id("onray", run.id)
    job = ray_jobs.status(ray_cluster, run.ray_job)
    assert job.status == "SUCCEEDED", job.message
    assert run.status == "succeeded", run.reason
    assert run.study
    assert run.study.startswith("onray-")
    assert run.best_value is not None
