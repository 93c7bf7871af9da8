"""The final stage's ensemble of the best trials, as the tabular AutoML tools build theirs (auto-sklearn's and
AutoGluon's ensemble selection): greedy selection with replacement (Caruana et al.) on validation predictions,
kept only when it beats the single best on validation.

Which trials: the best completed trial of each family that can join the winner's ensemble (the same
``ensemble_group``), then the next best trials, best first, at most :data:`MAX_CANDIDATES` distinct
configurations. Their validation predictions are recomputed here, each configuration refitted for its best epoch:
out-of-fold over train+validation for cross-validated tables (the search kept no single model of such trials),
else on the validation split. All candidates use the same seed, so their predictions cover the same rows in the
same order. :func:`automl.analysis.ensemble_selection.greedy_selection` picks integer weights; when the kept
ensemble has more than one member it beats every single candidate on validation, its members other than the
winner are retrained on train+validation as the winner was, and the winner's family combines them into one
model (for scikit-learn, a soft ``VotingClassifier`` / ``VotingRegressor``: one skops file, predicted through
``automl predict`` and ``automl export`` like a single model).

The stage spends only the time it is given: a candidate whose trial took longer than what is left for
predictions is skipped, and the ensemble is dropped when its members' retraining would not fit; the record says
which was chosen and why, and the summary repeats it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl.analysis.ensemble_selection import greedy_selection, scorer
from automl.models.base import ModelFamily
from automl.models.registry import get_family
from automl.spaces import SearchSpace
from automl.study.record import held_out_metric, primary_value, read_trial
from automl.study.study_record import read_study

log = logging.getLogger(__name__)

MAX_CANDIDATES = 8  # distinct configurations scored for selection (auto-sklearn keeps the 50 best; we refit ours)
PREDICTION_SHARE = 0.6  # of the stage's time, at most, for the candidates' predictions; the rest for retraining
SAFETY = 0.9  # as the final stage's plan: estimates are rough, plan to use at most this share


@dataclass(frozen=True)
class Candidate:
    """A completed trial that may join the ensemble: its family, own configuration and epochs to train."""

    trial: int
    family: str
    config: dict[str, Any]
    epochs: int
    value: float
    seconds: float  # what the trial took to train (0: not recorded)


@dataclass
class EnsembleChoice:
    """The final model (the ensemble, or the single model the final stage built) and why, for the record."""

    model: Any
    record: dict[str, Any] = field(default_factory=dict)  # empty: the family never joins ensembles

    @property
    def is_ensemble(self) -> bool:
        return self.record.get("chosen") == "ensemble"

    def yaml_entry(self) -> dict[str, Any]:
        """What ``config.yaml`` says of the ensemble (nothing for a single model)."""
        if not self.is_ensemble:
            return {}
        return {
            "ensemble": [{k: m[k] for k in ("trial", "family", "weight", "config")} for m in self.record["members"]]
        }


def candidates(study: Any, space: SearchSpace, winner: int, group: str) -> list[Candidate]:
    """The trials ensemble selection chooses among, best first, the winner first (see the module docstring)."""
    from optuna.trial import TrialState

    maximize = read_study(study).maximize
    values: dict[int, float] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if (value := primary_value(t)) is not None:
            values[t.number] = value
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.number in values]
    done.sort(key=lambda t: -values[t.number] if maximize else values[t.number])
    done.sort(key=lambda t: t.number != winner)  # stable: the winner first, the rest best first
    found: list[Candidate] = []
    for t in done:
        record = read_trial(t)
        family_name, own = space.family_of(record.config)
        family = get_family(family_name)
        if family.ensemble_group != group or any(c.family == family_name and c.config == own for c in found):
            continue
        epochs = family.epochs_for_final(own, record.best_epoch or record.epochs_seen)
        found.append(
            Candidate(t.number, family_name, own, epochs, float(values[t.number]), float(record.train_seconds or 0))
        )
    # every family's best first (diversity is what an average gains from), then the rest, each part best first
    firsts = [c for i, c in enumerate(found) if all(f.family != c.family for f in found[:i])]
    rest = [c for c in found if c not in firsts]
    return (firsts + rest)[:MAX_CANDIDATES]


def choose_ensemble(
    study: Any,
    space: SearchSpace,
    data: Any,
    winner: int,
    single: Any,
    seed: int,
    seconds: float | None,
    say: Callable[[str], None],
) -> EnsembleChoice:
    """The final model: an ensemble of the best trials when one beats the single best on validation and fits in
    ``seconds`` (None: no limit), else ``single`` (the winner's final model, fitted on train+validation)."""
    winner_trial = study.get_trials(deepcopy=False)[winner]
    winner_family = get_family(space.family_of(read_trial(winner_trial).config)[0])
    group = winner_family.ensemble_group
    if group is None:
        return EnsembleChoice(single)
    started = time.monotonic()

    def left() -> float:
        return float("inf") if seconds is None else seconds - (time.monotonic() - started)

    def single_because(why: str, **extra: Any) -> EnsembleChoice:
        say(f"the final model is the single best trial: {why}")
        return EnsembleChoice(single, {"chosen": "single", "why": why, **extra})

    record = read_study(study)
    metric = held_out_metric(record.metric)
    try:
        score = scorer(metric, data.task)
    except ValueError as exc:
        return single_because(str(exc))
    pool = candidates(study, space, winner, group)
    if not pool or pool[0].trial != winner:
        return single_because("the winner did not complete, so no ensemble is built around it")
    if len(pool) < 2:
        return single_because("no other completed trial could join an ensemble")
    say(f"ensemble selection: validation predictions of the best {len(pool)} trials")
    scored, predictions, targets, paces = _predict(pool, data, seed, left)
    if len(scored) < 2:
        return single_because(f"only {len(scored)} trial's predictions fitted the time left for ensemble selection")
    selection = greedy_selection([predictions[c.trial] for c in scored], targets, score, record.maximize)
    facts = {
        "metric": metric,
        "candidates": [c.trial for c in scored],
        "val_value": selection.value,
        "single_val_value": selection.best_single_value,
        "single_trial": scored[selection.best_single].trial,
    }
    if not selection.is_ensemble:
        return single_because(
            f"no weighted average of the best {len(scored)} trials beat the best single one on validation "
            f"({metric} {selection.best_single_value:.4f})",
            **facts,
        )
    chosen = [(scored[i], w) for i, w in enumerate(selection.weights) if w > 0]
    cost = sum(paces[c.trial] for c, _ in chosen if c.trial != winner)
    if cost > left() * SAFETY:
        return single_because(
            f"an ensemble of trials {', '.join(str(c.trial) for c, _ in chosen)} scored {selection.value:.4f} on "
            f"validation against {selection.best_single_value:.4f}, but retraining its members (about {cost:.0f} s) "
            f"did not fit the {max(0.0, left()):.0f} s left",
            **facts,
        )
    models = []
    for candidate, _ in chosen:
        if candidate.trial == winner:
            models.append(single)
            continue
        say(f"ensemble: retraining trial {candidate.trial} ({candidate.family}) on train+validation")
        family = get_family(candidate.family)
        models.append(family.fit_final(dict(candidate.config), data, candidate.epochs, seed))
    names = [f"trial_{c.trial}" for c, _ in chosen]
    model = winner_family.weighted_ensemble(models, [w for _, w in chosen], names, data)
    why = (
        f"greedy ensemble selection (Caruana et al.) over the best {len(scored)} trials' validation predictions "
        f"kept {len(chosen)} members, scoring {metric} {selection.value:.4f} on validation against "
        f"{selection.best_single_value:.4f} for the best single trial"
    )
    say(f"the final model is an ensemble: {why}")
    members = [
        {"trial": c.trial, "family": c.family, "weight": int(w), "config": dict(c.config), "val_value": c.value}
        for c, w in chosen
    ]
    return EnsembleChoice(model, {"chosen": "ensemble", "why": why, "members": members, **facts})


def _predict(
    pool: list[Candidate], data: Any, seed: int, left: Callable[[], float]
) -> tuple[list[Candidate], dict[int, np.ndarray], np.ndarray, dict[int, float]]:
    """The candidates whose validation predictions fitted the time, those predictions, the targets of the rows
    they cover, and each candidate's estimated seconds to retrain on train+validation."""
    at_start = left()
    kept_back = 0.0 if math.isinf(at_start) else at_start * (1 - PREDICTION_SHARE)  # for retraining the members
    scored: list[Candidate] = []
    predictions: dict[int, np.ndarray] = {}
    paces: dict[int, float] = {}
    targets: np.ndarray | None = None
    fitted_rows, final_rows = _rows(data)
    for candidate in pool:
        if candidate.seconds > left() - kept_back:
            log.info("ensemble: trial %d skipped, its %.1f s would not fit", candidate.trial, candidate.seconds)
            continue
        family: ModelFamily = get_family(candidate.family)
        began = time.monotonic()
        try:
            out = family.validation_predictions(dict(candidate.config), data, candidate.epochs, seed)
        except (ValueError, FloatingPointError, ArithmeticError) as exc:  # a configuration the refit rejects
            log.info("ensemble: trial %d left out (%s)", candidate.trial, exc)
            continue
        if out is None or (targets is not None and not np.array_equal(out[1], targets)):
            continue
        targets = out[1]
        predictions[candidate.trial] = out[0]
        paces[candidate.trial] = (time.monotonic() - began) * final_rows / max(1, fitted_rows)
        scored.append(candidate)
    return scored, predictions, targets if targets is not None else np.empty(0), paces


def _rows(data: Any) -> tuple[int, int]:
    """Rows fitted for one candidate's predictions (every fold's training rows, or the training split) and rows a
    final member fits (train+validation): their ratio turns a measured prediction time into a member's."""
    n_train, n_val = len(data.y_train), len(data.y_val)
    folds = int(getattr(data, "cv_folds", 0) or 0)
    if folds > 1:
        return (folds - 1) * (n_train + n_val), n_train + n_val
    return n_train, n_train + n_val
