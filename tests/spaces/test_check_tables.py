"""keras_mlp takes a table as one float matrix: a table with text or missing values is refused by the space check
in one line, before any trial (no study is made), while a numeric table and the scikit-learn families pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import FIXTURES, write_mixed_table

from automl.cli import main
from automl.data.tables import load_table_file
from automl.errors import SpaceError
from automl.spaces import load_space
from automl.spaces.checks import check_data, check_space
from automl.study.storage import open_storage


def _numeric_table(path: Path, *, hole: bool = False) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    frame["label"] = np.where(frame["a"] > 0, "up", "down")
    if hole:
        frame.loc[5, "b"] = np.nan
    frame.to_csv(path, index=False)
    return path


def _check(space_file: str, table: Path) -> None:
    space = load_space(str(FIXTURES / space_file))
    data = load_table_file(str(table), target="label", task=None, seed=0, limit=None)
    check_data(space, check_space(space), data.kind, data.task, data)


def test_keras_mlp_refuses_text_and_missing_values_naming_the_columns(tmp_path: Path) -> None:
    with pytest.raises(SpaceError) as caught:
        _check("tiny_mlp.yaml", write_mixed_table(tmp_path / "mixed.csv"))
    message = str(caught.value)
    assert "\n" not in message
    assert "keras_mlp" in message and "text column(s) colour" in message and "missing values in size" in message
    assert "scikit-learn family" in message


def test_keras_mlp_refuses_a_numeric_table_with_a_missing_value(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match="missing values in b"):
        _check("tiny_mlp.yaml", _numeric_table(tmp_path / "hole.csv", hole=True))


def test_a_clean_numeric_table_and_the_sklearn_families_pass(tmp_path: Path) -> None:
    _check("tiny_mlp.yaml", _numeric_table(tmp_path / "clean.csv"))
    _check("tiny_tabular.yaml", write_mixed_table(tmp_path / "mixed.csv"))


def test_the_search_stops_before_any_trial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = write_mixed_table(tmp_path / "mixed.csv")
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    space = str(FIXTURES / "tiny_mlp.yaml")
    code = main(["search", str(table), "--target", "label", "--space", space, "--study", "s", "--storage", storage])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("automl: error")]
    assert code == 2
    assert len(errors) == 1 and "keras_mlp takes numeric tables" in errors[0], err
    assert "trial" not in err.lower()
    assert [s.study_name for s in open_storage(storage).get_all_studies()] == []
