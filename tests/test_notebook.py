"""notebooks/quickstart.ipynb runs top to bottom on the tiny space, then its table section on a small wine CSV with
the scikit-learn families; a failing cell fails the build."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from support import TINY_LIMIT, TINY_SPACE, TINY_TABULAR

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def test_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the notebook has no code cells"
    for cell in code:
        assert cell.outputs == [], cell.source[:80]
        assert cell.execution_count is None, cell.source[:80]


def test_quickstart_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = f"sqlite:///{tmp_path / 'nb.db'}"
    # The kernel inherits this environment: the notebook's parameters cell reads these.
    monkeypatch.setenv("AUTOML_NB_SPACE", str(TINY_SPACE))
    monkeypatch.setenv("AUTOML_NB_STORAGE", storage)
    monkeypatch.setenv("AUTOML_NB_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("AUTOML_NB_LIMIT", str(TINY_LIMIT))
    monkeypatch.setenv("AUTOML_NB_TRIALS", "2")
    monkeypatch.setenv("AUTOML_NB_TABLE_SPACE", str(TINY_TABULAR))
    monkeypatch.setenv("AUTOML_NB_TABLE_LIMIT", "120")
    monkeypatch.setenv("AUTOML_NB_TABLE_TRIALS", "5")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute(env=dict(os.environ))
    except CellExecutionError as exc:
        pytest.fail(f"a notebook cell failed:\n{str(exc)[-3000:]}")

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    # Each step printed what it is there to show.
    assert "held-out test accuracy" in text
    assert "advice:" in text
    assert "predicted:" in text
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) >= 4, f"expected the report figures and Optuna's plot inline, got {len(pngs)} images"
    # Everything it wrote went under tmp_path: the exported model, its configuration and report.
    assert (tmp_path / "out" / "export" / "model.keras").is_file()
    assert (tmp_path / "out" / "export" / "config.yaml").is_file()
    assert (tmp_path / "nb.db").is_file()

    # The table section: a study of the scikit-learn families, its report and plots, predictions in the CSV's labels.
    table = re.findall(r"table (predicted|true): +\[([^\]]*)\]", text)
    assert [kind for kind, _ in table] == ["predicted", "true"], text[-3000:]
    for _, labels in table:  # five rows, named as the CSV names them
        assert len(labels.split(", ")) == 5 and set(labels.split(", ")) <= {"'class_0'", "'class_1'", "'class_2'"}
    assert re.search(r"study wine-\S+: best validation val_accuracy 0\.\d{4}", text), text[-3000:]
    assert "table advice:" in text
    assert len(pngs) >= 9, f"expected the table study's figures too, got {len(pngs)} images"
    table_models = list((tmp_path / "out" / "reports").glob("wine-*/model.skops"))
    assert len(table_models) == 1, table_models
