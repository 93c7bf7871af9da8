"""A family defined outside automl (``tests/user_families/ridge_family.py``) plugs in with
``model: "ridge_family:Ridge"`` and runs end to end through the installed console script: search, report, export."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import optuna
from support import TINY_LIMIT

from automl.study.storage import default_storage_url

USER_MODULES = Path(__file__).parent.parent / "user_families"

SPACE = """
name: ridge
model: "ridge_family:Ridge"
search: {sampler: tpe, pruner: median, trials: 4, patience: 2}
params:
  alpha:  {type: float, low: 1.0e-2, high: 1.0e+3, log: true}
  epochs: {type: fixed, value: 3}
"""


def run(automl_exe: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(USER_MODULES), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([automl_exe, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def test_a_users_family_searches_reports_and_exports(automl_exe: str, tmp_path: Path) -> None:
    space = tmp_path / "ridge.yaml"
    space.write_text(SPACE)
    reports = tmp_path / "reports"
    searched = run(
        automl_exe, "search", "mnist", "--space", str(space), "--study", "mine", "--limit", str(TINY_LIMIT),
        "--reports", str(reports), "--no-live", cwd=tmp_path,
    )  # fmt: skip
    assert searched.returncode == 0, searched.stderr[-3000:]
    assert "Traceback" not in searched.stderr

    study = optuna.load_study(study_name="mine", storage=default_storage_url())
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == 4
    assert all(len(t.user_attrs["curves"]["val_accuracy"]) >= 1 for t in finished)
    final = study.user_attrs["final"]
    assert final["test_metric"] == "accuracy"
    assert 0.5 < final["test_value"] <= 1.0  # ridge on pixels learns digits
    assert Path(final["model_path"]).name == "ridge.json"
    assert final["baseline_test_value"] is None  # this family names no baseline

    reported = run(automl_exe, "report", "mine", "--reports", str(reports), cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr[-3000:]
    assert (reports / "mine" / "report.html").is_file()
    assert (reports / "mine" / "trials.csv").is_file()

    exported = run(automl_exe, "export", "mine", "--out", str(tmp_path / "export"), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr[-3000:]
    weights = np.array(json.loads((tmp_path / "export" / "ridge.json").read_text()))
    assert weights.shape == (784, 10)  # loads without automl: plain JSON of the ridge weights
