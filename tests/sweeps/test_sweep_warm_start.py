"""Warm start: the previous run's top-K are the next run's first trials; a changed space drops what no longer
fits, and says which and why. Real studies, real (synthetic-family) searches."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from sweep_helpers import SYNTHETIC_SPACE, make_spec

from automl.spaces import load_space
from automl.study.record import read_trial
from automl.sweeps.run import run_sweep
from automl.sweeps.state import StateStore
from automl.sweeps.warm_start import fit_to_space, top_k_configs, with_warm_start


def _trials(study_name: str, storage: str) -> list:
    study = optuna.load_study(study_name=study_name, storage=storage)
    return [read_trial(t) for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)]


def test_top_k_best_first_without_repeats_from_a_real_study() -> None:
    study = optuna.create_study(direction="maximize")
    for value, lr in [(0.5, 0.1), (0.9, 0.01), (0.7, 0.05), (0.9, 0.01), (0.2, 0.3)]:
        study.add_trial(
            optuna.trial.create_trial(
                params={"learning_rate": lr},
                distributions={"learning_rate": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)},
                value=value,
            )
        )
    records = [read_trial(t) for t in study.get_trials()]
    assert top_k_configs(records, "maximize", 2) == [{"learning_rate": 0.01}, {"learning_rate": 0.05}]
    assert top_k_configs(records, "minimize", 1) == [{"learning_rate": 0.3}]
    # a search with several objectives carries its whole front (the pick first), then the best others up to k
    assert top_k_configs(records, "maximize", 1, front=(2, 4)) == [{"learning_rate": 0.05}, {"learning_rate": 0.3}]
    assert top_k_configs(records, "maximize", 3, front=(4,)) == [
        {"learning_rate": 0.3},
        {"learning_rate": 0.01},
        {"learning_rate": 0.05},
    ]


def test_a_changed_space_keeps_what_fits_and_says_why_the_rest_went() -> None:
    space = load_space(str(SYNTHETIC_SPACE))
    configs = [
        {"n_layers": 1, "units_1": 16, "optimizer": "adam", "learning_rate": 0.01},
        {"n_layers": 1, "units_1": 16, "optimizer": "rmsprop", "learning_rate": 0.01},
        {"n_layers": 1, "units_1": 16, "optimizer": "adam", "learning_rate": 0.5},
        {"n_layers": 1, "units_1": 16, "optimizer": "adam", "learning_rate": 0.01, "dropout": 0.2},
    ]
    kept, dropped = fit_to_space(configs, space)
    assert kept == configs[:1]
    assert [d.reason for d in dropped] == [
        "optimizer='rmsprop' is not among the choices ['adam', 'sgd']",
        "learning_rate=0.5 is outside the new range [0.0001, 0.1] log",
        "dropout is no longer in the space",
    ]
    warm = with_warm_start(space, kept)
    assert warm.settings.warm_start[0] == configs[0]
    assert warm.params == space.params


@pytest.fixture
def storage(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


def test_a_warm_started_runs_first_trials_are_the_previous_runs_top_k(
    tmp_path: Path, storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    # resume off: on this unchanged data the run would otherwise start from the copies (test_sweep_resume.py)
    warm = {"top_k": 2, "resume": False}
    spec = make_spec("warm", schedule=None, storage=storage, trials=5, limit=600, warm_start=warm)
    first = run_sweep(spec, state)
    second = run_sweep(spec, state)
    best_first = top_k_configs(_trials(first.study, storage), "maximize", 2)  # type: ignore[arg-type]
    second_trials = _trials(second.study, storage)  # type: ignore[arg-type]
    assert [t.params for t in second_trials[:2]] == best_first
    assert second.warm_started == 2
    assert second.previous_study == first.study
    assert "data: unchanged since" in second.notes
    attrs = optuna.load_study(study_name=second.study, storage=storage).user_attrs
    assert attrs["sweep"] == "warm"
    assert attrs["sweep_previous_run"] == first.study


def test_a_changed_space_between_runs_drops_configurations_with_a_message(
    tmp_path: Path, storage: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    spec = make_spec("edited", schedule=None, storage=storage, trials=4, limit=600, warm_start={"top_k": 4})
    first = run_sweep(spec, state)  # the space changes below: the next run cannot start from these copies
    raw = yaml.safe_load(SYNTHETIC_SPACE.read_text())
    raw["params"]["optimizer"] = {"type": "categorical", "choices": ["sgd"]}  # every 'adam' config stops fitting
    edited = tmp_path / "edited_space.yaml"
    edited.write_text(yaml.safe_dump(raw, sort_keys=False))
    previous = _trials(first.study, storage)  # type: ignore[arg-type]
    top = top_k_configs(previous, "maximize", 4)
    n_adam = sum(c["optimizer"] == "adam" for c in top)
    caplog.set_level("INFO")
    second = run_sweep(
        make_spec(
            "edited", schedule=None, storage=storage, trials=4, limit=600, warm_start={"top_k": 4}, space=str(edited)
        ),
        state,
    )
    assert n_adam > 0  # seeded: the first run's top 4 include adam configurations
    assert second.warm_started == len(top) - n_adam
    assert f"warm start: dropped {n_adam} that no longer fit the space {edited}" in second.notes
    assert "optimizer='adam' is not among the choices ['sgd']" in caplog.text
    assert not second.resumed
    assert f"resume: starts afresh, not from the trials of {first.study}: the search space changed" in second.notes
