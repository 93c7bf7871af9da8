"""Connecting to Ray: each way it can go wrong is one line and exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ray_support import SLEEPY_SPACE, driver_env, free_port, search_command

from automl.backends.ray.cluster import ClusterError, connect


def _search(automl_exe: str, cluster, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    cmd = search_command(automl_exe, cluster, "ray-errors", "--space", str(SLEEPY_SPACE), *extra)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def test_ray_missing_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ClusterError, match=r"Ray is not installed; install it with pip install 'ray\[tune\]"):
        connect("127.0.0.1:1", 1)


def test_an_unreachable_address_fails_fast() -> None:
    port = free_port()
    with pytest.raises(ClusterError, match=rf"Ray cluster at 127.0.0.1:{port}: cannot be reached"):
        connect(f"127.0.0.1:{port}", 1)


def test_ray_client_addresses_are_refused() -> None:
    with pytest.raises(ClusterError, match="Ray Client"):
        connect("ray://127.0.0.1:10001", 1)


def test_a_cluster_too_small_or_refusing_the_token_is_one_line(ray_cluster, automl_exe: str) -> None:  # noqa: ANN001
    env = driver_env(ray_cluster)
    small = _search(automl_exe, ray_cluster, env, "--cpus-per-trial", "4")
    assert small.returncode == 2, small.stderr[-2000:]
    assert small.stderr.strip().splitlines()[-1].startswith("automl: error: Ray cluster at 127.0.0.1:")
    assert "not enough CPUs for one trial (--cpus-per-trial 4, largest node has 1" in small.stderr

    refused = _search(automl_exe, ray_cluster, {**env, "RAY_AUTH_TOKEN": "0" * 64})
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "refused the connection for authentication" in refused.stderr.strip().splitlines()[-1]


def test_cluster_options_need_the_ray_backend(capsys: pytest.CaptureFixture[str]) -> None:
    from automl.cli import main

    assert main(["search", "mnist", "--space", str(SLEEPY_SPACE), "--limit", "600", "--address", "auto"]) == 2
    assert "--address: options of a cluster backend; add --backend ray" in capsys.readouterr().err
    assert main(["search", "mnist", "--space", str(SLEEPY_SPACE), "--backend", "ray", "--workers", "2"]) == 2
    assert "with --backend ray use --concurrency" in capsys.readouterr().err


def test_a_space_chooses_its_backend_among_the_known_ones() -> None:
    from automl.errors import SpaceError
    from automl.spaces import parse_space

    space = {"model": "synthetic", "params": {"learning_rate": {"type": "fixed", "value": 0.01}}}
    assert parse_space({**space, "search": {"backend": "ray"}}).settings.backend == "ray"
    assert parse_space(space).settings.to_dict()["backend"] == "optuna"
    with pytest.raises(SpaceError, match=r"search.backend: must be one of \['optuna', 'ray'\], got 'spark'"):
        parse_space({**space, "search": {"backend": "spark"}})
