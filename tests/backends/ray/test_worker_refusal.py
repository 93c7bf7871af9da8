"""`automl worker` on a study the Ray backend made: refused in one line (exit 2) that says what to run instead,
before it touches the study. The study is made the real way, by `automl search --backend ray` on the test
cluster."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ray_support import REPO, driver_env, search_command, study_trials

SPACE = REPO / "tests" / "fixtures" / "tiny_synthetic.yaml"


def test_a_worker_refuses_a_ray_study_in_one_line(ray_cluster, automl_exe: str, tmp_path: Path) -> None:  # noqa: ANN001
    env = driver_env(ray_cluster)
    cmd = search_command(automl_exe, ray_cluster, "ray-made", "--space", str(SPACE), "--trials", "2")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    before = [(t.number, t.state, t.params) for t in study_trials("ray-made")]

    joined = subprocess.run(
        [automl_exe, "worker", "--study", "ray-made"], env=env, capture_output=True, text=True, timeout=120,
        cwd=tmp_path,
    )  # fmt: skip
    assert joined.returncode == 2, joined.stdout + joined.stderr
    lines = joined.stderr.strip().splitlines()
    assert len(lines) == 1, joined.stderr
    assert lines[0].startswith("automl: error: study 'ray-made': made by the Ray backend"), lines[0]
    assert "--backend ray --study ray-made" in lines[0]  # what to run instead
    assert "ray start --address" in lines[0]
    assert [(t.number, t.state, t.params) for t in study_trials("ray-made")] == before  # untouched
