"""The best K trials' models are kept in Optuna's artifact store and the rest deleted; a writer killed mid-write
leaves nothing that export, the final stage or the report would pick."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

from automl.models.registry import get_family
from automl.study.artifacts import (
    KEPT_PREFIX,
    KeptModel,
    ModelKeeper,
    fetch,
    kept_model_addresses,
    kept_models,
    model_address,
)


def _study(tmp_path: Path, name: str = "keep") -> optuna.Study:
    return optuna.create_study(study_name=name, storage=f"sqlite:///{tmp_path / 'keep.db'}", direction="maximize")


def _model(accuracy: float, trial: int) -> dict:
    return {"family": "synthetic", "config": {}, "epochs": 3, "seed": trial, "accuracy": accuracy}


def test_only_the_best_k_models_are_kept_and_the_others_deleted(tmp_path: Path) -> None:
    study = _study(tmp_path)
    keeper = ModelKeeper(study, keep=2, maximize=True)
    family = get_family("synthetic")
    assert Path(keeper.location) == tmp_path / "keep.db.artifacts"  # beside the storage by default
    for trial, value in enumerate([0.5, 0.7, 0.6, 0.9]):
        keeper.offer(trial, value, family, _model(value, trial))
    assert keeper.offer(4, 0.4, family, _model(0.4, 4)) is None  # below the kept ones: never written
    kept = kept_models(study)
    assert [(k.trial, k.value) for k in kept] == [(3, 0.9), (1, 0.7)]
    files = sorted(p.name for p in Path(keeper.location).iterdir())
    assert files == sorted(k.artifact_id for k in kept)  # the dropped trials' files are gone
    assert study.user_attrs[KEPT_PREFIX + "0"] is None and study.user_attrs[KEPT_PREFIX + "2"] is None
    path = fetch(study, kept[0], tmp_path / "out")
    assert path.name == "model.json" and family.load(path)["accuracy"] == 0.9
    addresses = kept_model_addresses(study)  # what the report's table of top trials shows
    assert sorted(addresses) == [1, 3]
    assert Path(addresses[3]).read_bytes() == path.read_bytes()


def test_a_model_the_time_cut_short_is_kept_only_while_no_trial_has_completed(tmp_path: Path) -> None:
    study = _study(tmp_path)
    keeper = ModelKeeper(study, keep=3, maximize=True)
    family = get_family("synthetic")
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED, intermediate_values={1: 0.8}))
    assert keeper.offer(0, 0.8, family, _model(0.8, 0), stopped=True) is not None  # the best the budget bought
    study.add_trial(optuna.trial.create_trial(value=0.7))
    # Once a trial completed, a stopped model would only weaken the kept ensemble, however well it ranks.
    assert keeper.offer(2, 0.95, family, _model(0.95, 2), stopped=True) is None
    assert keeper.offer(1, 0.7, family, _model(0.7, 1)) is not None
    assert [k.trial for k in kept_models(study)] == [0, 1]


def test_a_model_in_a_bucket_is_addressed_by_its_key() -> None:
    kept = KeptModel(trial=4, value=0.9, family="synthetic", artifact_id="abc", file="model.json")
    assert model_address("s3://models/automl", kept) == "s3://models/abc"  # Optuna's store keys by the id alone
    assert model_address("/srv/kept", kept) == "/srv/kept/abc"


_KILLED_WRITER = """
import os, signal, sys
import optuna
from optuna.artifacts import FileSystemArtifactStore
from automl.models.registry import get_family
from automl.study.artifacts import ModelKeeper

class DiesWhileWriting(FileSystemArtifactStore):
    def write(self, artifact_id, body):
        with open(os.path.join(sys.argv[2], artifact_id), "wb") as f:
            f.write(body.read(10))  # half a model on disk under its artifact id
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)

study = optuna.load_study(study_name="killed", storage=sys.argv[1])
keeper = ModelKeeper(study, 3, True, store=DiesWhileWriting(sys.argv[2]))
keeper.offer(0, 0.9, get_family("synthetic"), {"family": "synthetic", "config": {}, "seed": 0, "accuracy": 0.9})
"""


def test_a_writer_killed_mid_write_leaves_no_model_that_export_would_pick(tmp_path: Path) -> None:
    from automl.reports.export import _kept_model

    study = _study(tmp_path, "killed")
    study.enqueue_trial({})
    study.tell(study.ask(), 0.9)
    store = tmp_path / "keep.db.artifacts"
    store.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_WRITER), f"sqlite:///{tmp_path / 'keep.db'}", str(store)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == -9, done.stderr
    assert len(list(store.iterdir())) == 1  # the partial file exists...
    study = optuna.load_study(study_name="killed", storage=f"sqlite:///{tmp_path / 'keep.db'}")
    assert kept_models(study) == []  # ...but was never registered
    assert _kept_model(study, tmp_path / "export") is None  # so export retrains rather than copy it


@pytest.mark.parametrize("keep", [0])
def test_keep_zero_keeps_nothing(tmp_path: Path, keep: int) -> None:
    study = _study(tmp_path)
    keeper = ModelKeeper(study, keep=keep, maximize=True)
    assert keeper.offer(0, 0.9, get_family("synthetic"), _model(0.9, 0)) is None
    assert kept_models(study) == []
