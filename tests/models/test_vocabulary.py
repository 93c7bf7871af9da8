"""One vocabulary of hyperparameter kinds for spaces and families, and one of baseline labels."""

from __future__ import annotations

import json

import pytest

from automl.errors import SpaceError
from automl.models import BaselineLabel, HyperParam, ParamKind, get_family
from automl.models.base import HYPERPARAM_KINDS
from automl.spaces import parse_space
from automl.spaces.model import PARAM_TYPES


def test_families_and_spaces_spell_kinds_from_one_enum() -> None:
    assert set(PARAM_TYPES) | set(HYPERPARAM_KINDS) == {k.value for k in ParamKind}
    assert HyperParam("a", "float", 0.0, 1.0).kind is ParamKind.FLOAT  # the plain spelling still works
    space = parse_space({"model": "synthetic", "params": {"learning_rate": {"type": "float", "low": 0.1, "high": 1}}})
    assert space.param("learning_rate").type is ParamKind.FLOAT
    assert json.loads(json.dumps(space.to_dict()))["params"]["learning_rate"]["type"] == "float"
    assert all(
        isinstance(p.kind, ParamKind) for name in ("keras_mlp", "sklearn_hgb") for p in get_family(name).hyperparameters
    )


def test_messages_list_the_kinds_as_plain_words() -> None:
    with pytest.raises(ValueError, match=r"kind must be one of \('int', 'float', 'categorical', 'bool'\), got 'fixed'"):
        HyperParam("a", "fixed")
    with pytest.raises(SpaceError, match=r"must be one of \['float', 'int', 'categorical', 'fixed'\], got 'bool'"):
        parse_space({"model": "synthetic", "params": {"noise": {"type": "bool"}}})


def test_built_in_families_name_their_baselines_from_one_vocabulary() -> None:
    assert get_family("keras_mlp").baseline_label == get_family("keras_cnn").baseline_label == BaselineLabel.TUTORIAL
    assert get_family("sklearn_hgb").baseline_label == BaselineLabel.LINEAR
    labels = [r.label for r in get_family("sklearn_hgb").references("regression")]
    assert (
        labels
        == [BaselineLabel.MEAN, BaselineLabel.default_parameters("sklearn_hgb")]
        == ["mean predictor", "default-parameter sklearn_hgb"]
    )
