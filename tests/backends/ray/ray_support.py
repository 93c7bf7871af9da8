"""What the Ray tests share: a real two-node Ray cluster on this machine (stopped by its own processes), and
running `automl search --backend ray` against it. The session fixture is in conftest.py; test modules import these
helpers from here, never from ``conftest`` (pytest keeps only the last conftest imported under that name).

``ray stop`` would stop every Ray process of the user (other engineers' clusters too), so each node runs as
``ray start --block`` in its own process group: stopping the group stops exactly this cluster's processes.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
RAY = Path(sys.executable).parent / "ray"
NODE_CPUS = 1
OBJECT_STORE_BYTES = 300 * 1024 * 1024  # the tests' data is small; the default (30% of RAM per node) is not
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_ports(index: int) -> list[str]:
    """Ports two nodes on one machine must not share (each defaults to a fixed number). Worker ports come from
    below Linux's ephemeral range (32768-60999), where the free ports picked here live, one block per node."""
    base = random.randrange(20000, 31000, 1000) if index == 0 else 0
    base = base or (_HEAD_WORKER_BASE[0] + 500)
    _HEAD_WORKER_BASE[0] = base
    return [
        f"--node-manager-port={free_port()}",
        f"--object-manager-port={free_port()}",
        f"--metrics-export-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--min-worker-port={base}",
        f"--max-worker-port={base + 400}",
    ]


_HEAD_WORKER_BASE = [0]


@dataclass
class RayCluster:
    address: str
    temp_dir: Path
    env: dict[str, str]
    nodes: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        """SIGTERM each node's process group (``ray start --block`` and everything it started), then SIGKILL."""
        for proc in self.nodes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5  # then SIGKILL: a node drains for up to 30 s, nothing here needs it
        for proc in self.nodes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for pid in self.stragglers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stragglers(self) -> list[int]:
        """Processes of this cluster that left its process groups (found by its GCS address or temp dir)."""
        marks = (self.address, str(self.temp_dir))
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\x00", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(mark in cmdline for mark in marks):
                found.append(int(entry.name))
        return found


def _start_node(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(RAY), "start", "--block", *args],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped without touching anyone else's Ray
    )


def _wait_for_nodes(cluster: RayCluster, count: int) -> None:
    script = (
        "import sys, time, ray\n"
        f"ray.init(address={cluster.address!r}, logging_level='ERROR', log_to_driver=False)\n"
        f"end = time.monotonic() + {START_TIMEOUT_S}\n"
        f"while sum(1 for n in ray.nodes() if n['Alive']) < {count} and time.monotonic() < end:\n"
        "    time.sleep(0.5)\n"
        f"sys.exit(0 if sum(1 for n in ray.nodes() if n['Alive']) >= {count} else 1)\n"
    )
    waiter = subprocess.Popen([sys.executable, "-c", script], env=cluster.env, stderr=subprocess.PIPE, text=True)
    while waiter.poll() is None:
        if any(node.poll() is not None for node in cluster.nodes):  # a node that failed to start: say so now
            waiter.kill()
            logs = "".join(p.read_text()[-1500:] for p in sorted(cluster.temp_dir.glob("*.log")))
            raise RuntimeError(f"a node of the Ray test cluster exited while starting: {logs}")
        time.sleep(0.3)
    if waiter.returncode != 0:
        stderr = waiter.stderr.read() if waiter.stderr else ""
        raise RuntimeError(f"the Ray test cluster did not come up with {count} nodes: {stderr[-2000:]}")


@contextlib.contextmanager
def running_cluster() -> Iterator[RayCluster]:
    """Start the two-node cluster; stop it on leaving, whatever happened."""
    temp_dir = Path(tempfile.mkdtemp(prefix="automl-raytest-"))
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),  # Ray workers import this checkout's automl
        "AUTOML_OFFLINE": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        # Recent Ray requires a token between nodes and drivers; this cluster's own, so that no file of the
        # user's (~/.ray/auth_token) is read or written.
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
    }
    env.pop("RAY_ADDRESS", None)
    cluster = RayCluster(f"127.0.0.1:{port}", temp_dir, env)
    common = [f"--num-cpus={NODE_CPUS}", f"--object-store-memory={OBJECT_STORE_BYTES}"]
    try:
        head = [
            "--head",
            f"--port={port}",
            f"--dashboard-port={free_port()}",
            f"--ray-client-server-port={free_port()}",
            f"--temp-dir={temp_dir}",  # only the head takes one; the other node uses the head's
            "--include-dashboard=false",
            "--disable-usage-stats",
        ]
        cluster.nodes.append(_start_node([*head, *common, *node_ports(0)], env, temp_dir / "head.log"))
        end = time.monotonic() + START_TIMEOUT_S
        while True:  # the second node needs the head's GCS listening
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > end or cluster.nodes[0].poll() is not None:
                    log = (temp_dir / "head.log").read_text()[-2000:]
                    raise RuntimeError(f"the Ray head did not start: {log}") from None
                time.sleep(0.3)
        worker = [f"--address={cluster.address}", "--disable-usage-stats"]
        cluster.nodes.append(_start_node([*worker, *common, *node_ports(1)], env, temp_dir / "worker.log"))
        _wait_for_nodes(cluster, 2)
        yield cluster
    finally:
        cluster.stop()


# --------------------------------------------------------------------------------------------------------------
# Running `automl search --backend ray` through the installed console script


SLEEPY_SPACE = REPO / "tests" / "fixtures" / "sleepy_synthetic.yaml"
DRIVER_LIMIT = 600  # examples; the synthetic family ignores the data, the study records it


def search_command(automl_exe: str, cluster: RayCluster, study: str, *extra: str) -> list[str]:
    return [
        automl_exe,
        "search",
        "mnist",
        "--backend",
        "ray",
        "--address",
        cluster.address,
        "--study",
        study,
        "--limit",
        str(DRIVER_LIMIT),
        "--no-live",
        *extra,
    ]


def driver_env(cluster: RayCluster) -> dict[str, str]:
    """The cluster's environment plus this test's AUTOML_HOME (set by the autouse fixture)."""
    return {**cluster.env, "AUTOML_HOME": os.environ["AUTOML_HOME"]}


def study_trials(study: str) -> list:
    import optuna

    from automl.study.storage import open_storage

    # open_storage serialises table creation with the driver, which may be creating the file right now
    return optuna.load_study(study_name=study, storage=open_storage(heartbeat=False)).get_trials(deepcopy=False)


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):  # noqa: ANN001, ANN201
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = predicate()
        except Exception:  # the study may not exist yet
            value = None
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"the search ended (rc {proc.returncode}) before {what}: {out[-3000:]}")
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
