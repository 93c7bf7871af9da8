"""The final record is stored as a JSON study attribute and read back: what ``to_dict`` writes, ``read_final``
reads, field for field."""

from __future__ import annotations

import json
from dataclasses import fields

from automl.study.study_record import FinalRecord, read_final


def a_final_record() -> FinalRecord:
    return FinalRecord(
        best_trial=3,
        config={"units_1": 64, "optimizer": "adam"},
        val_value=0.91,
        epochs=4,
        test_metric="test_accuracy",
        test_value=0.88,
        test_metrics={"test_accuracy": 0.88, "test_loss": 0.31},
        n_test=200,
        ci_low=0.83,
        ci_high=0.92,
        baseline_label="logistic regression",
        baseline_test_value=0.8,
        model_path="reports/x/model.keras",
        config_path="reports/x/config.json",
        member_test_values=(0.87, 0.89),
        final_stage={"members": 2, "epochs": 4, "seconds": 3.5},
        references=({"label": "forest", "family": "sklearn_forest", "test_value": 0.84},),
    )


def test_to_dict_names_every_field_and_holds_only_json_types() -> None:
    record = a_final_record()
    out = record.to_dict()
    assert list(out) == [f.name for f in fields(FinalRecord)]
    assert out["member_test_values"] == [0.87, 0.89]  # lists, as the stored JSON gives them back
    assert out["references"] == [{"label": "forest", "family": "sklearn_forest", "test_value": 0.84}]
    assert json.loads(json.dumps(out)) == out


def test_what_to_dict_writes_read_final_reads_back() -> None:
    record = a_final_record()
    assert read_final(json.loads(json.dumps(record.to_dict())), "val_accuracy") == record
