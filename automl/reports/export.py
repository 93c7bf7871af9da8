"""``automl export``: the final model file, its configuration (YAML) and the report, in one folder.

The model is whatever the winner's family saved (``model.keras`` for the Keras families, ``model.json`` for the
synthetic one); export copies the file and asks the family how to load it, so it never loads a library itself.
When the study has no final model yet but kept its best trials' models (automl.study.artifacts), the best kept
model is copied as it is, without retraining. When the study has no saved model for its current winner (a continued
search found a new one, or the reports folder was deleted), the winner is retrained first through ``retrain``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl.analysis.front import recorded_trade_off
from automl.errors import AutomlError
from automl.reports.data import DEFAULT_TOP_K, final_estimate, top_trials
from automl.reports.write import write_report
from automl.study.record import primary_value, read_trial
from automl.study.study_record import FinalRecord, StudyRecord, read_study

DEFAULT_FAMILY = "keras_mlp"  # studies recorded before spaces could name another family

Retrain = Callable[[Any, Path], None]  # (study, folder): retrain the winner, save it there, record `final`


@dataclass
class ExportResult:
    directory: Path
    model: Path
    config: Path
    report: Path
    trial: int
    retrained: bool
    family: str
    load_hint: str


def family_name(record: StudyRecord, config: dict[str, Any]) -> str:
    """The family that trained the winner: the space's ``model``, or, when the space chooses among several
    families (``model`` is a list), the one the winner's configuration names."""
    declared = (record.space or {}).get("model")
    if isinstance(declared, list):
        chosen = config.get("model")
        if not isinstance(chosen, str) or chosen not in declared:
            raise AutomlError(
                f"study {record.name!r}: its space chooses among {declared}, but the winner's configuration names "
                f"no family (model={chosen!r}); the study is damaged"
            )
        return chosen
    return str(declared) if declared else DEFAULT_FAMILY


def _saved_model(record: StudyRecord, winner: int) -> tuple[FinalRecord, Path] | None:
    """The final evaluation and its model file, when both exist and belong to the current winner."""
    final = record.final
    if final is None or not final.model_path or final.best_trial != winner:
        return None
    path = Path(final.model_path)
    return (final, path) if path.is_file() else None


def _kept_model(study: Any, out: Path) -> tuple[FinalRecord, Path] | None:
    """The best kept trial model (automl.study.artifacts), copied into ``out``, with a record of what it is: the
    trial's model trained on train alone, scored on validation only (no held-out score yet). None without one."""
    from automl.study.artifacts import fetch, kept_models

    kept = kept_models(study)
    if not kept:
        return None
    best = kept[0]
    try:
        path = fetch(study, best, out)
    except (OSError, KeyError, FileNotFoundError):  # the store was moved or emptied: retrain instead
        return None
    trial = read_trial(study.trials[best.trial])
    final = FinalRecord(
        best_trial=best.trial, config=trial.config, val_value=best.value, epochs=trial.best_epoch or 0,
        test_metric="", test_value=float("nan"), test_metrics={}, n_test=0, ci_low=None, ci_high=None,
        baseline_label="", baseline_test_value=None, model_path=str(path), config_path="",
        member_test_values=(), references=(), final_stage={"mode": "kept", "note": "not scored on held-out data"},
    )  # fmt: skip
    return final, path


def _retrain_winner(data_dir: str | None) -> Retrain:
    def retrain(study: Any, out: Path) -> None:
        from automl.job.final import finalize
        from automl.job.retrain import study_dataset

        finalize(study, study_dataset(study, data_dir), out)

    return retrain


_HEADER = """\
# Exported by automl from study {study!r}: the winning configuration ({family}), retrained on train+validation.
# Load the model without automl:
#   {hint}
"""
_PREDICT = (
    "automl predict {folder} FILE [--proba] (or automl.load_model({folder!r}).predict(frame)); without automl, "
    "output i of the model is labels.class_names[i]"
)
_NO_NAMES = "class indices 0..k-1 (recorded before class names were kept: the sorted order of the original labels)"
_IMAGE_INPUT = "flatten each image to one row and scale pixels to [0, 1] (divide by 255)"


def study_labels(study: Any, final: FinalRecord) -> dict[str, Any]:
    """The labels the search recorded (class names, target, features), else those its final stage saved beside
    the model; empty for a study recorded before either kept them."""
    import yaml

    from automl.study.record import StudyKey

    labels = study.user_attrs.get(StudyKey.LABELS)
    if labels:
        return dict(labels)
    path = Path(final.config_path) if final.config_path else None
    if path is not None and path.is_file():
        try:
            return dict((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("labels") or {})
        except (yaml.YAMLError, OSError, AttributeError):  # a damaged side file: export without names
            return {}
    return {}


def export_study(
    study: Any,
    out_dir: str | Path,
    *,
    storage: str = "",
    data_dir: str | None = None,
    top_k: int = DEFAULT_TOP_K,
    retrain: Retrain | None = None,
) -> ExportResult:
    """Copy the winner's saved model into ``out_dir``, write ``config.yaml`` beside it and the report under
    ``report/``. ``retrain`` (default: the search's own final stage, on the study's recorded data, read from
    ``data_dir`` when given) runs only when the saved model is missing or belongs to an earlier winner."""
    import yaml

    from automl.models import get_family

    out = Path(out_dir)
    winners = top_trials(study, 1)
    if not winners:
        raise AutomlError(f"study {study.study_name!r}: no trial completed, so there is no winner to export")
    winner = winners[0]
    record = read_study(study)
    trade = recorded_trade_off(
        record.settings, f"study {record.name}", (read_trial(t) for t in study.get_trials(deepcopy=False))
    )
    if trade is not None and trade.picked is not None:  # several objectives or bounds: the rule's pick
        winner = next(t for t in study.get_trials(deepcopy=False) if t.number == trade.picked)
    found = _saved_model(record, winner.number)
    if found is None and record.final is None:
        kept = _kept_model(study, out)  # the search's own model of its best kept trial: no retraining
        if kept is not None:
            found = kept
    retrained = found is None
    if found is None:
        out.mkdir(parents=True, exist_ok=True)
        (retrain or _retrain_winner(data_dir))(study, out)
        record = read_study(study)
        found = _saved_model(record, winner.number)
        if found is None:
            raise AutomlError(
                f"study {record.name!r}: retraining trial {winner.number} saved no model; see the messages above"
            )
    final, saved = found
    name = family_name(record, final.config)
    family = get_family(name)
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / saved.name
    if saved.resolve() != model_path.resolve():
        shutil.copy2(saved, model_path)
    hint = family.load_hint(model_path)
    estimate = final_estimate(final, record.metric, record.maximize)
    document: dict[str, Any] = {
        "study": record.name,
        "trial": winner.number,
        "family": name,
        "metric": record.metric,
        "direction": record.direction,
        "validation_value": round(float(primary_value(winner) or 0.0), 6),
        "test_metric": estimate.test_metric,
        "test_value": round(estimate.test_value, 6),
        "test_ci95": [round(v, 4) for v in estimate.ci] if estimate.ci else None,
        "n_test": estimate.n_test,
        "baseline": {"label": estimate.baseline_label, "test_value": estimate.baseline_test_value},
        "epochs": estimate.epochs,
        "members": len(estimate.member_test_values) or 1,
        "model": model_path.name,
        "load": hint,
        "data": {"dataset": record.dataset, "kind": record.data_kind, "task": record.task},
        "config": final.config,
    }
    labels = study_labels(study, final)
    labels.setdefault("task", record.task)
    if record.task == "classification" and not labels.get("class_names") and record.data_kind == "table":
        labels["note"] = _NO_NAMES
    document["labels"] = labels
    document["predict"] = _PREDICT.format(folder=str(out))
    if record.data_kind == "images":
        document["data"]["input"] = _IMAGE_INPUT
    config_path = out / "config.yaml"
    header = _HEADER.format(study=record.name, family=name, hint=hint)
    config_path.write_text(header + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    files = write_report(study, out / "report", top_k=top_k, storage=storage)
    return ExportResult(out, model_path, config_path, files.html, winner.number, retrained, name, hint)
