"""Retraining a finished study's trials to measure how far their scores can be trusted: the final evaluation
when a study has none yet, and the spread of held-out scores across retraining seeds.

The numbers themselves (intervals, spread) are pure functions in :mod:`automl.analysis.intervals`.
"""

from __future__ import annotations

from typing import Any

from automl.analysis.intervals import spread
from automl.errors import AutomlError
from automl.job.final import finalize, study_space
from automl.job.pipeline import load_study_data
from automl.models.registry import get_family
from automl.study.record import StudyKey, held_out_metric, read_trial
from automl.study.study_record import read_study


def study_dataset(study: Any, data_dir: str | None = None) -> Any:
    """Reload the exact splits a study searched on, from what it recorded; checks the fingerprint."""
    return load_study_data(study.study_name, study.user_attrs, data_dir=data_dir)


def ensure_final(study: Any, data: Any, out_dir: Any, seed: int = 0) -> dict[str, Any]:
    """The study's final evaluation, running :func:`automl.job.final.finalize` first when it has none."""
    final = study.user_attrs.get(StudyKey.FINAL)
    if final:
        return dict(final)
    return finalize(study, data, out_dir, seed=seed).to_dict()


def seed_spread(study: Any, data: Any, trials: list[Any], seeds: int) -> dict[int, dict[str, Any]]:
    """Retrain each trial's configuration on train+validation with ``seeds`` seeds; score each once on test.

    The result is also stored in the study (user attribute ``seed_evaluations``) so later reports show it.
    """

    if seeds < 1:
        raise AutomlError(f"--seeds: must be an integer >= 1, got {seeds}; pass e.g. --seeds 3")
    space = study_space(study)
    test_metric = held_out_metric(read_study(study).metric)
    results: dict[int, dict[str, Any]] = {}
    for trial in trials:
        record = read_trial(trial)
        family_name, config = space.family_of(record.config)
        family = get_family(family_name)
        epochs = family.epochs_for_final(config, record.best_epoch)
        scores = []
        for seed in range(seeds):
            model = family.fit_final(config, data, epochs, seed)
            scores.append(family.evaluate(model, data.x_test, data.y_test).metrics[test_metric])
        results[record.number] = {
            "seeds": list(range(seeds)),
            "metric": test_metric,
            "test_values": scores,
            **spread(scores),
        }
    stored = dict(study.user_attrs.get(StudyKey.SEED_EVALUATIONS) or {})
    stored.update({str(k): v for k, v in results.items()})
    study.set_user_attr(StudyKey.SEED_EVALUATIONS, stored)
    return results
