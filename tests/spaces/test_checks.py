"""A space is checked against its model families before any trial: each class of mistake is one line, exit 2, and
nothing is searched (no study is created)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import FIXTURES

from automl.cli import main
from automl.errors import SpaceError
from automl.spaces import load_space, parse_space
from automl.spaces.checks import check_space, reachable_configurations
from automl.study.storage import default_storage_url, open_storage

MLP = yaml.safe_load((Path(__file__).parents[2] / "search_spaces" / "mnist_mlp.yaml").read_text())


def mutated(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(MLP)
    change(raw)
    return raw


def typo(raw: dict[str, Any]) -> None:
    raw["params"]["learning_rat"] = raw["params"].pop("learning_rate")
    raw["search"]["warm_start"] = []


def no_units_2(raw: dict[str, Any]) -> None:
    del raw["params"]["units_2"]
    raw["params"]["units_3"]["when"] = "n_layers >= 3"
    raw["search"]["warm_start"] = []


def lbfgs(raw: dict[str, Any]) -> None:
    raw["params"]["optimizer"]["choices"].append("lbfgs")


def unknown_activation(raw: dict[str, Any]) -> None:
    raw["params"]["activation"]["choices"] = ["relu", "swoosh"]


def huge_units(raw: dict[str, Any]) -> None:
    raw["params"]["units_1"]["high"] = 10**38


def float_for_int(raw: dict[str, Any]) -> None:
    raw["params"]["n_layers"] = {"type": "float", "low": 1.0, "high": 3.0}


def warm_start_without_units_2(raw: dict[str, Any]) -> None:
    del raw["search"]["warm_start"][1]["units_2"]


def unreported_metric(raw: dict[str, Any]) -> None:
    raw["search"]["metric"] = "val_rmse"


CASES = [
    (typo, "params.learning_rat: keras_mlp has no parameter 'learning_rat'"),
    (no_units_2, "params: keras_mlp needs 'units_2', but the space can sample a configuration without it (n_layers=2"),
    (lbfgs, "params.optimizer.choices: keras_mlp cannot use 'lbfgs'"),
    (unknown_activation, "params.activation.choices: keras_mlp cannot use 'swoosh'"),
    (huge_units, "params.units_1.high: keras_mlp cannot use 100000000000000000000000000000000000000"),
    (float_for_int, "params.n_layers.type: keras_mlp reads n_layers as an integer"),
    (warm_start_without_units_2, "search.warm_start[1]: keras_mlp would reject it: units_2: required, missing"),
    (unreported_metric, "search.metric: keras_mlp reports ['val_accuracy', 'val_loss'], not 'val_rmse'"),
]


@pytest.mark.parametrize(("change", "expected"), CASES, ids=[c[0].__name__ for c in CASES])
def test_each_mistake_is_named_with_file_key_and_rule(change: Any, expected: str) -> None:
    with pytest.raises(SpaceError) as caught:
        check_space(parse_space(mutated(change), source="x.yaml"))
    assert str(caught.value).startswith(f"x.yaml: {expected}"), str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("change", "expected"), CASES[:5], ids=[c[0].__name__ for c in CASES[:5]])
def test_the_search_refuses_before_any_trial(
    change: Any, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(mutated(change), sort_keys=False))
    code = main(["search", "mnist", "--space", str(path), "--study", "never", "--reports", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert expected in err[0]
    assert "never" not in {s.study_name for s in open_storage(default_storage_url()).get_all_studies()}


def test_the_shipped_spaces_pass() -> None:
    shipped = sorted((Path(__file__).parents[2] / "search_spaces").glob("*.yaml"))
    assert len(shipped) >= 4  # mnist_cnn, mnist_mlp and the two table spaces at least: the loop checks something
    for path in shipped:
        check_space(load_space(str(path)))
    check_space(load_space(str(FIXTURES / "tiny_mlp.yaml")))
    check_space(load_space(str(FIXTURES / "tiny_synthetic.yaml")))


def test_conditions_shape_the_reachable_configurations() -> None:
    space = load_space(str(FIXTURES / "tiny_mlp.yaml"))
    shapes = {(c["n_layers"], "units_2" in c, c["optimizer"], "momentum" in c) for c in reachable_configurations(space)}
    assert shapes == {
        (1, False, "adam", False),
        (1, False, "sgd", True),
        (2, True, "adam", False),
        (2, True, "sgd", True),
    }


def test_a_space_that_chooses_among_families() -> None:
    raw = {
        "model": ["keras_mlp", "synthetic"],
        "params": {
            "keras_mlp.n_layers": {"type": "int", "low": 1, "high": 1},
            "keras_mlp.units_1": {"type": "int", "low": 8, "high": 16},
            "activation": {"type": "categorical", "choices": ["relu", "tanh"]},
            "optimizer": {"type": "categorical", "choices": ["adam"]},
            "learning_rate": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
            "synthetic.sleep": {"type": "fixed", "value": 0.0},
        },
    }
    space = parse_space(raw, source="cash.yaml")
    assert set(check_space(space)) == {"keras_mlp", "synthetic"}
    assert space.params[0].name == "model"
    assert space.params[0].choices == ("keras_mlp", "synthetic")
    mlp = {"model": "keras_mlp", "keras_mlp.n_layers": 1, "keras_mlp.units_1": 8, "activation": "relu"}
    assert space.family_of(mlp) == ("keras_mlp", {"n_layers": 1, "units_1": 8, "activation": "relu"})
    # A family's own parameters are checked against that family only; shared ones against every family.
    raw["params"]["synthetic.dropout_rate"] = {"type": "float", "low": 0.0, "high": 0.5}
    with pytest.raises(SpaceError, match="params.synthetic.dropout_rate: synthetic has no parameter 'dropout_rate'"):
        check_space(parse_space(raw, source="cash.yaml"))
    raw["params"].pop("synthetic.dropout_rate")
    raw["params"]["other.units_1"] = {"type": "int", "low": 1, "high": 2}
    with pytest.raises(SpaceError, match="needs FAMILY among the space's model list, got 'other'"):
        parse_space(raw, source="cash.yaml")


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("no_such_family", "model: must be a model family"),
        ("no_such_module:Family", "cannot import module 'no_such_module'"),
        ("automl.spaces:SearchSpace", "is not a ModelFamily subclass"),
    ],
)
def test_unknown_families_are_one_line_errors(model: str, expected: str) -> None:
    raw = {"model": model, "params": {"learning_rate": {"type": "float", "low": 0.01, "high": 0.1}}}
    with pytest.raises(SpaceError, match=expected):
        check_space(parse_space(raw, source="x.yaml"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "not UTF-8 text|binary data"),
        ("description: \u00e9t\u00e9\n".encode("latin-1"), "not UTF-8 text"),
        (b"name: x\x00\n", "binary data"),
    ],
)
def test_a_space_file_that_is_not_text_is_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "space.yaml"
    path.write_bytes(content)
    with pytest.raises(SpaceError, match=expected):
        load_space(str(path))


def test_a_directory_is_not_a_space(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dir.yaml").mkdir()
    assert main(["spaces", "check", str(tmp_path / "dir.yaml")]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_spaces_check_prints_the_table_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spaces", "check", "mnist_mlp"]) == 0
    out = capsys.readouterr().out
    assert "learning_rate" in out
    assert "is a valid space for keras_mlp" in out


def test_spaces_check_refuses_a_bad_space_without_loading_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import automl.data

    def no_data(*args: object, **kwargs: object) -> None:
        raise AssertionError("spaces check must not load data")

    monkeypatch.setattr(automl.data, "load_dataset", no_data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(mutated(lbfgs), sort_keys=False))
    assert main(["spaces", "check", str(path)]) == 2
    assert "cannot use 'lbfgs'" in capsys.readouterr().err
