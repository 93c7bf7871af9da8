"""Every file in examples/ is checked here, since none was applied to a real cluster (README, "Examples").

kubectl's own `--dry-run=client` needs an API server to read the schemas from, and no schema of KubeRay's
resources ships offline, so the Kubernetes and Ray files are parsed and the fields automl relies on are checked:
every `automl` command line they hold is one the real CLI parser accepts, naming a sweep spec that exists and
validates; images, secrets, ConfigMaps, mounts, ports and versions agree with each other and with automl; the
schedules say what the sweep spec says. The systemd units also go through `systemd-analyze verify`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

import automl
from automl.cli import build_parser
from automl.sweeps.cron import parse_cron
from automl.sweeps.spec import load_spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SWEEPS = EXAMPLES / "sweeps"
SPEC_MOUNT = "/etc/automl/sweeps"  # where the Kubernetes examples mount the ConfigMap made from examples/sweeps/
RAY_IMAGE = f"ghcr.io/example/automl-ray:{automl.__version__}"
STORAGE_SECRET = {"name": "automl-storage", "key": "url"}
SYSTEMD_EXE = "/opt/automl/.venv/bin/automl"


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path}: not a YAML mapping"
    return document


def parse_cli(argv: list[str], where: str) -> Any:
    """The real parser's namespace for an `automl ...` command line (without the program name), or a failure."""
    try:
        return build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{where}: `automl {shlex.join(argv)}` is not a command automl accepts (exit {exc.code})")


def containers(pod_template: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod_template["spec"]["containers"])


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def spec_behind(argv: list[str], where: str) -> Path:
    """The examples/sweeps file a `sweep run /etc/automl/sweeps/NAME.yaml` command reads from its ConfigMap."""
    args = parse_cli(argv, where)
    assert args.command == "sweep" and args.action == "run", f"{where}: {argv}"
    assert args.spec.startswith(f"{SPEC_MOUNT}/"), f"{where}: the spec {args.spec} is not under {SPEC_MOUNT}"
    local = SWEEPS / Path(args.spec).name
    assert local.is_file(), f"{where}: runs {args.spec}, but examples/sweeps/ has no {local.name}"
    return local


def check_storage_env(container: dict[str, Any], where: str) -> None:
    env = {e["name"]: e for e in container.get("env", [])}
    assert "AUTOML_STORAGE" in env, f"{where}: no AUTOML_STORAGE"
    ref = env["AUTOML_STORAGE"]["valueFrom"]["secretKeyRef"]
    assert {k: ref[k] for k in ("name", "key")} == STORAGE_SECRET, f"{where}: {ref}"


def check_spec_mount(pod_spec: dict[str, Any], container: dict[str, Any], where: str) -> None:
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"] == SPEC_MOUNT]
    assert len(mounts) == 1, f"{where}: {SPEC_MOUNT} is not mounted"
    assert mounts[0]["name"] in volumes, f"{where}: mounts volume {mounts[0]['name']!r}, which the pod lacks"
    assert volumes[mounts[0]["name"]]["configMap"]["name"] == "automl-sweeps", where


# ---- the sweep specs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SWEEPS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_sweep_spec_validates(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name == path.stem  # the ConfigMap key, the run studies' prefix and the systemd instance agree
    assert spec.space is not None
    automl.load_space(spec.space)  # a space automl ships


# ---- Kubernetes: the CronJob ----------------------------------------------------------------------------------


def test_kubernetes_cronjob_runs_the_nightly_sweep_on_its_schedule() -> None:
    path = EXAMPLES / "kubernetes" / "cronjob.yaml"
    doc = load(path)
    assert (doc["apiVersion"], doc["kind"]) == ("batch/v1", "CronJob")
    cron = doc["spec"]
    job = cron["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # a failed run is recorded failed; it must not loop
    assert job["backoffLimit"] == 0
    (container,) = containers(job["template"])
    argv = container["args"]
    assert argv[0] == "automl", f"{path}: args must start with the automl executable, got {argv}"
    spec = load_spec(spec_behind(argv[1:], str(path)))
    check_storage_env(container, str(path))
    check_spec_mount(pod, container, str(path))
    assert container["image"].endswith(f":{automl.__version__}")
    # Kubernetes keeps the schedule the spec states, in its time zone; overlap "skip" is Forbid.
    parse_cron(cron["schedule"])
    assert (cron["schedule"], cron["timeZone"]) == (spec.schedule, spec.timezone)
    assert cron["concurrencyPolicy"] == {"skip": "Forbid", "allow": "Allow"}[spec.overlap]
    assert spec.catch_up == "latest" and cron["startingDeadlineSeconds"] > 0


# ---- KubeRay: the RayJob and the RayCluster ------------------------------------------------------------------


def test_kuberay_rayjob_runs_a_ray_sweep_on_the_cluster_it_starts() -> None:
    path = EXAMPLES / "kuberay" / "rayjob.yaml"
    doc = load(path)
    assert (doc["apiVersion"], doc["kind"]) == ("ray.io/v1", "RayJob")
    spec = doc["spec"]
    assert spec["shutdownAfterJobFinishes"] is True  # the cluster goes when the run ends
    sweep = load_spec(spec_behind(shlex.split(spec["entrypoint"])[1:], str(path)))
    assert shlex.split(spec["entrypoint"])[0] == "automl"
    assert sweep.backend == "ray" and sweep.ray_address == "auto"  # the trials run on this job's cluster
    cluster = spec["rayClusterSpec"]
    assert cluster["rayVersion"] == version("ray")
    (head,) = containers(cluster["headGroupSpec"]["template"])
    check_storage_env(head, str(path))  # the entrypoint (the driver, which writes the study) runs on the head
    check_spec_mount(cluster["headGroupSpec"]["template"]["spec"], head, str(path))
    for node in walk(spec):
        if "image" in node:
            assert node["image"] == RAY_IMAGE, f"{path}: {node['name']} runs {node['image']}, not {RAY_IMAGE}"
    for group in cluster["workerGroupSpecs"]:
        assert group["replicas"] >= 1
        for container in containers(group["template"]):
            assert "cpu" in container["resources"]["requests"]  # trials take --cpus-per-trial CPUs of it


def test_kuberay_raycluster_runs_the_image_and_ray_automl_needs() -> None:
    path = EXAMPLES / "kuberay-raycluster.yaml"
    text = path.read_text()
    doc = load(path)
    assert (doc["apiVersion"], doc["kind"]) == ("ray.io/v1", "RayCluster")
    spec = doc["spec"]
    assert spec["rayVersion"] == version("ray")
    assert f"rayproject/ray:{version('ray')}-py3" in text  # the image is built from the same Ray
    (head,) = containers(spec["headGroupSpec"]["template"])
    ports = {p["name"]: p["containerPort"] for p in head["ports"]}
    assert ports == {"gcs": 6379, "dashboard": 8265}  # --address HOST:6379; a sweep's ray_dashboard on 8265
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"  # trials run on the workers
    check_storage_env(head, str(path))
    for node in walk(spec):
        if "image" in node:
            assert node["image"] == RAY_IMAGE, f"{path}: {node['name']} runs {node['image']}"
    for group in spec["workerGroupSpecs"]:
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    commands = re.findall(r"-- (automl .+)$", text, flags=re.M)
    assert commands, f"{path}: no `automl` command in its instructions"
    for command in commands:
        args = parse_cli(shlex.split(command)[1:], str(path))
        assert (args.command, args.backend, args.address) == ("search", "ray", "auto")


# ---- Ray's cluster launcher ------------------------------------------------------------------------------------


def test_ray_cluster_launcher_config_is_consistent() -> None:
    path = EXAMPLES / "ray-cluster-launcher.yaml"
    text = path.read_text()
    doc = load(path)
    nodes = doc["available_node_types"]
    assert doc["head_node_type"] in nodes
    assert nodes[doc["head_node_type"]]["resources"] == {"CPU": 0}
    workers = [n for name, n in nodes.items() if name != doc["head_node_type"]]
    assert workers and all(n["min_workers"] <= n["max_workers"] <= doc["max_workers"] for n in workers)
    # The nodes run the Ray this automl was tested with, and find the head where it listens.
    assert any(f'"ray[tune]=={version("ray")}"' in c for c in doc["setup_commands"]), doc["setup_commands"]
    head_port = re.search(r"ray start --head --port=(\d+)", " ".join(doc["head_start_ray_commands"]))
    assert head_port is not None
    assert any(f"--address=$RAY_HEAD_IP:{head_port.group(1)}" in c for c in doc["worker_start_ray_commands"])
    commands = re.findall(r'^#.*"(automl [^"]+)"', text, flags=re.M)  # the instructions, in its comments
    assert commands, f"{path}: no `automl` command in its instructions"
    for command in commands:
        args = parse_cli(shlex.split(command)[1:], str(path))
        assert (args.command, args.backend, args.address) == ("search", "ray", "auto")


# ---- systemd --------------------------------------------------------------------------------------------------


def unit_sections(path: Path) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        assert "#" not in value, f"{path}: {key}: systemd reads no comment after a value"
        current[key] = value
    return sections


def test_systemd_service_and_timer_run_the_nightly_sweep_as_its_spec_says() -> None:
    service = unit_sections(EXAMPLES / "systemd" / "automl-sweep@.service")
    timer = unit_sections(EXAMPLES / "systemd" / "automl-sweep@.timer")
    run = service["Service"]
    assert run["Type"] == "oneshot"  # one run per start; the timer starts it again
    assert "Restart" not in run  # a failed run is recorded failed, and the next due time runs again
    assert int(run["TimeoutStopSec"]) >= 60  # SIGTERM records the running trial before exit 130
    argv = shlex.split(run["ExecStart"])
    assert argv[0] == SYSTEMD_EXE
    instance = "nightly"  # automl-sweep@nightly.service runs sweeps/nightly.yaml
    args = parse_cli([a.replace("%i", instance) for a in argv[1:]], "automl-sweep@.service")
    assert (args.command, args.action) == ("sweep", "run")
    assert args.spec == f"/etc/automl/sweeps/{instance}.yaml"
    spec = load_spec(SWEEPS / f"{instance}.yaml")
    # The timer keeps the spec's schedule: "30 2 * * *" in Europe/Berlin, the jitter, catch-up "latest".
    minute, hour, *_ = (spec.schedule or "").split()
    assert timer["Timer"]["OnCalendar"] == f"*-*-* {int(hour):02d}:{int(minute):02d}:00 {spec.timezone}"
    assert int(timer["Timer"]["RandomizedDelaySec"]) == spec.jitter_seconds
    assert timer["Timer"]["Persistent"] == "true" and spec.catch_up == "latest"
    assert timer["Install"]["WantedBy"] == "timers.target"


# systemd ships with this project's machines, CI's included: there a missing systemd-analyze fails the test rather
# than skip it unseen; a developer's machine without systemd skips it.
@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and not os.environ.get("CI"), reason="systemd-analyze is not installed"
)
def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at this machine's automl, the rest as written.
    automl_exe = str(Path(sys.executable).parent / "automl")
    service = (EXAMPLES / "systemd" / "automl-sweep@.service").read_text().replace(SYSTEMD_EXE, automl_exe)
    (tmp_path / "automl-sweep@nightly.service").write_text(service)
    shutil.copy(EXAMPLES / "systemd" / "automl-sweep@.timer", tmp_path / "automl-sweep@nightly.timer")
    done = subprocess.run(
        ["systemd-analyze", "verify", "automl-sweep@nightly.service", "automl-sweep@nightly.timer"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # not even a warning (an unknown key, a bad calendar)
