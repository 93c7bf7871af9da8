"""The Ray backend end to end on a real two-node cluster, through the installed console script: MNIST on a
hyperband space, recorded in the study as the Optuna backend records it. The only Ray test that trains MNIST."""

from __future__ import annotations

import subprocess

import optuna
from optuna.trial import TrialState
from ray_support import REPO, driver_env, search_command

from automl.study.record import StudyKey, TrialKey, read_trial
from automl.study.storage import open_storage
from automl.study.study_record import read_study

SPACE = REPO / "tests" / "fixtures" / "tiny_mlp_hyperband.yaml"
RUNGS = {2, 6}  # ASHA's milestones for 6 epochs, grace period 2, reduction factor 3


def test_mnist_on_a_two_node_cluster_lands_in_the_study(ray_cluster, automl_exe: str, tmp_path) -> None:  # noqa: ANN001
    study_name = "ray-mnist"
    cmd = search_command(automl_exe, ray_cluster, study_name, "--space", str(SPACE), "--concurrency", "2")
    done = subprocess.run(cmd, env=driver_env(ray_cluster), capture_output=True, text=True, timeout=400, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    # Read back through the plain Optuna API.
    study = optuna.load_study(study_name=study_name, storage=open_storage(heartbeat=False))
    trials = study.get_trials()
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 8
    assert read_study(study).backend == "ray"
    assert study.user_attrs[StudyKey.DATASET] == "mnist"
    assert len({t.user_attrs[TrialKey.NODE] for t in finished}) == 2  # both nodes ran trials
    for t in finished:
        curves = t.user_attrs[TrialKey.CURVES]
        assert set(curves) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert sorted(t.intermediate_values) == list(range(1, len(curves["val_accuracy"]) + 1))
        assert t.user_attrs[TrialKey.CONFIG]["epochs"] == 6
        assert t.user_attrs[TrialKey.TUNE_TRIAL_ID]
    pruned = [read_trial(t) for t in finished if t.state == TrialState.PRUNED]
    assert pruned, "ASHA stopped no trial"
    for record in pruned:  # at a rung, with exactly the epochs it trained
        assert record.prune_reason == "scheduler"
        assert record.pruned_at_epoch in RUNGS
        assert record.pruned_at_epoch < 6
        assert len(record.curves["val_accuracy"]) == record.pruned_at_epoch == max(record.intermediate)
    assert any(
        t.state == TrialState.COMPLETE and len(t.user_attrs[TrialKey.CURVES]["val_accuracy"]) == 6 for t in finished
    )
    report = subprocess.run(
        [automl_exe, "report", study_name],
        env=driver_env(ray_cluster),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    assert (tmp_path / "reports" / study_name / "report.md").is_file()
