"""Report data: every number a report shows, computed from the study as plain values (no formatting).

The study is read only through :mod:`automl.study.record`, so any backend's studies (and plain Optuna ones) report
alike. Nothing here assumes a task: the objective and its direction come from the study's settings, and the honest
final estimate is in the objective's held-out counterpart (``val_rmse`` -> ``rmse``). Writing a report never
trains anything: the held-out evaluation is what the study recorded (``final``, ``seed_evaluations``).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from automl.analysis import diagnostics as dg
from automl.analysis import recommendation
from automl.analysis.front import TradeOff, recorded_trade_off
from automl.analysis.intervals import in_range, selection_bias, wilson_interval
from automl.errors import AutomlError
from automl.reports.summary import reference_verdicts
from automl.study.artifacts import kept_model_addresses
from automl.study.record import TrialRecord, held_out_metric, is_finite_number, primary_value, read_trial
from automl.study.study_record import FinalRecord, SeedSpread, StudyRecord, read_seed_spreads, read_study

DEFAULT_TOP_K = 5
IMPORTANCE_MAX_TRIALS = 300  # fANOVA on more takes tens of seconds; a random sample of this many is used
IMPORTANCE_EVALUATOR = "fANOVA (optuna.importance.FanovaImportanceEvaluator, seed 0)"


@dataclass
class TrialRow:
    """One trial as the report shows it: its record, its diagnosis and its epoch budget."""

    record: TrialRecord = field(repr=False)
    diagnosis: dg.Diagnosis
    epochs_budget: int | None

    @property
    def number(self) -> int:
        return self.record.number

    @property
    def state(self) -> str:
        return self.record.state

    @property
    def value(self) -> float | None:
        """The objective for completed trials; the last reported value for pruned ones."""
        return self.record.last_value

    @property
    def params(self) -> dict[str, Any]:
        return self.record.params

    @property
    def config(self) -> dict[str, Any]:
        return self.record.config

    @property
    def curves(self) -> dict[str, list[float]]:
        return self.record.curves

    @property
    def epochs_trained(self) -> int | None:
        return self.record.epochs_seen


@dataclass(frozen=True)
class FinalEstimate:
    """The winner's one look at the held-out split, and what it says about the search's own estimate.

    ``ci`` is a 95% interval for ``test_value``: the one the study recorded, else a Wilson interval when the test
    metric is accuracy (a proportion), else none. ``selection_bias`` is validation minus test, signed so that a
    positive number means validation was optimistic; None when the two are not the same metric.
    """

    trial: int
    metric: str
    val_value: float
    test_metric: str
    test_value: float
    n_test: int
    ci: tuple[float, float] | None
    ci_method: str
    selection_bias: float | None
    baseline_label: str
    baseline_test_value: float | None
    epochs: int
    member_test_values: tuple[float, ...]
    references: tuple[dict[str, Any], ...] = ()
    verdicts: tuple[str, ...] = ()  # plain sentences: references the winner does not beat beyond its interval


def final_estimate(final: FinalRecord, metric: str, maximize: bool) -> FinalEstimate:
    ci: tuple[float, float] | None = None
    method = ""
    if final.ci_low is not None and final.ci_high is not None:
        # Kept inside the metric's range: studies recorded before the intervals did so can hold e.g. 0.88-1.09.
        ci, method = in_range(final.test_metric, (final.ci_low, final.ci_high)), "as recorded by the final evaluation"
    elif final.test_metric == "accuracy" and 0.0 <= final.test_value <= 1.0:
        # Studies from before the record carried an interval: accuracy is a proportion, so Wilson's applies.
        ci, method = wilson_interval(final.test_value, final.n_test), "Wilson"
    bias = None
    if final.test_metric == held_out_metric(metric) and math.isfinite(final.val_value):
        bias = selection_bias(final.val_value, final.test_value, maximize)
    return FinalEstimate(
        trial=final.best_trial,
        metric=metric,
        val_value=final.val_value,
        test_metric=final.test_metric,
        test_value=final.test_value,
        n_test=final.n_test,
        ci=ci,
        ci_method=method,
        selection_bias=bias,
        baseline_label=final.baseline_label,
        baseline_test_value=final.baseline_test_value,
        epochs=final.epochs,
        member_test_values=final.member_test_values,
        references=final.references,
        verdicts=tuple(reference_verdicts(final.to_dict(), maximize)),
    )


@dataclass
class ReportData:
    study: str
    storage: str
    record: StudyRecord = field(repr=False)
    counts: dict[str, int]
    rows: list[TrialRow]
    top: list[TrialRow]
    summary: recommendation.StudySummary
    importances: dict[str, float] | None
    importance_note: str
    final: FinalEstimate | None
    final_note: str
    seed_spreads: dict[int, SeedSpread]
    pruning: dict[str, Any]
    max_epochs: int | None
    generated: str
    kept_models: dict[int, str] = field(default_factory=dict)  # trial number -> where its kept model lies
    trade_off: TradeOff | None = None  # several objectives or bounds: the front and the pick

    @property
    def metric(self) -> str:
        return self.record.metric

    @property
    def test_metric(self) -> str:
        return self.record.test_metric

    @property
    def direction(self) -> str:
        return self.record.direction

    @property
    def maximize(self) -> bool:
        return self.record.maximize


def _epochs_budget(record: TrialRecord, families: Callable[[dict[str, Any]], Any] | None) -> int | None:
    """The epochs (a scikit-learn family's steps) the trial would have trained without pruning or early stopping.

    A configuration's ``epochs`` says it for the Keras families; otherwise the trial's family does, from its own
    configuration (``families`` maps a configuration to the family and that configuration): a space choosing
    among families holds ``FAMILY.epochs`` or nothing, and one-step families (SVM, linear) train in one go.
    """
    budget: Any = record.config.get("epochs")  # whatever the config holds; checked below
    if is_finite_number(budget):
        return int(budget)
    if families is None or not record.config:
        return None
    try:
        family, own = families(record.config)
        full = int(family.epochs_for_final(own, None))
    except Exception:  # a family that is gone or a damaged configuration: the longest run stands in
        return None
    # a family that trains more epochs than its configuration says (a fixed loop of its own) still saved nothing
    return max(full, record.epochs_trained or 0) or None


def _family_resolver(space: dict[str, Any] | None) -> Callable[[dict[str, Any]], Any] | None:
    """A trial configuration to (family instance, its own configuration), from the study's recorded space; None
    when the study records no space, or one that no longer parses (the report still goes on)."""
    if not space:
        return None
    from automl.models import get_family
    from automl.spaces import parse_space

    try:
        parsed = parse_space(space, source="recorded space")
    except Exception:
        return None
    instances: dict[str, Any] = {}

    def resolve(config: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        name, own = parsed.family_of(config)
        if name not in instances:
            instances[name] = get_family(name)
        return instances[name], own

    return resolve


def top_rows(rows: list[TrialRow], k: int, maximize: bool) -> list[TrialRow]:
    """The ``k`` best completed trials with a finite value, best first (ties: earlier trial first)."""
    complete = [(r.record.value, r) for r in rows if r.state == "COMPLETE" and r.record.value is not None]
    complete.sort(key=lambda vr: ((-vr[0] if maximize else vr[0]), vr[1].number))
    return [r for _, r in complete[:k]]


def top_trials(study: Any, k: int) -> list[Any]:
    """The study's ``k`` best completed trials (``FrozenTrial``) with a finite value, ordered as :func:`top_rows`."""
    from optuna.trial import TrialState

    maximize = read_study(study).maximize
    values: dict[int, float] = {}
    complete = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if (value := primary_value(t)) is not None:
            values[t.number] = value
            complete.append(t)
    complete.sort(key=lambda t: (-values[t.number] if maximize else values[t.number], t.number))
    return complete[:k]


def pruning_stats(rows: list[TrialRow]) -> dict[str, Any]:
    """Epochs trained against the full budget; the difference split into pruning and early stopping."""
    budget = trained = by_pruning = by_early_stop = 0
    counted = 0
    for r in rows:
        if r.state not in ("COMPLETE", "PRUNED", "FAIL") or r.epochs_trained is None or r.epochs_budget is None:
            continue
        counted += 1
        budget += r.epochs_budget
        trained += r.epochs_trained
        saved = max(0, r.epochs_budget - r.epochs_trained)
        if r.state == "PRUNED":
            by_pruning += saved
        elif r.state == "COMPLETE":
            by_early_stop += saved
    return {
        "trials_counted": counted,
        "budget_epochs": budget,
        "trained_epochs": trained,
        "saved_by_pruning": by_pruning,
        "saved_by_early_stopping": by_early_stop,
        "saved_fraction": (budget - trained) / budget if budget else 0.0,
    }


def compute_importances(study: Any, trials: list[Any] | None = None) -> tuple[dict[str, float] | None, str]:
    """Optuna's fANOVA importances over completed trials with finite values, or why there are none.

    ``trials`` are the study's trials when the caller already read them (re-reading a large RDB study costs
    seconds). Above ``IMPORTANCE_MAX_TRIALS`` completed trials, a seeded random sample of that many is used:
    fANOVA's cost grows faster than linearly with the trials, and a random sample keeps the estimate unbiased.
    """
    import optuna
    from optuna.trial import TrialState

    if trials is None:
        trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE and primary_value(t) is not None]
    if len(complete) < 2:
        return None, f"importances need at least 2 completed trials with a finite value; this study has {len(complete)}"
    used = complete
    if len(complete) > IMPORTANCE_MAX_TRIALS:
        used = sorted(random.Random(0).sample(complete, IMPORTANCE_MAX_TRIALS), key=lambda t: t.number)
    # An in-memory copy: the evaluator reads the trials again, which is slow from an RDB storage.
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study created in memory" line in notebooks
    try:
        copy = optuna.create_study(direction=study.directions[0])
    finally:
        optuna.logging.set_verbosity(verbosity)
    if len(study.directions) > 1:  # importances for the primary objective, the first of a multi-objective study
        used = [
            optuna.trial.create_trial(params=t.params, distributions=t.distributions, value=primary_value(t))
            for t in used
        ]
    copy.add_trials(used)
    try:
        values = optuna.importance.get_param_importances(
            copy, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
    except (ValueError, RuntimeError) as exc:
        return None, f"importances could not be computed: {str(exc).splitlines()[0][:200]}"
    values = {k: float(v) for k, v in values.items() if is_finite_number(v)}
    if not values:
        return None, "importances could not be computed: no parameter was sampled in every completed trial"
    over = f"{len(complete)} completed trials"
    if used is not complete:
        over = f"a random sample of {len(used)} of the {len(complete)} completed trials (seed 0)"
    return values, f"{IMPORTANCE_EVALUATOR}, over {over}"


def _unstable_lr(rows: list[TrialRow]) -> tuple[float, float] | None:
    """Median learning rate of the unstable trials against the others', when the family has one."""
    unstable: list[float] = []
    others: list[float] = []
    for r in rows:
        lr: Any = r.params.get("learning_rate")  # whatever was sampled; checked below
        if not is_finite_number(lr) or r.diagnosis.label in (dg.NO_CURVES, dg.PRUNED):
            continue
        (unstable if r.diagnosis.label == dg.UNSTABLE else others).append(float(lr))
    if not unstable or not others:
        return None
    return float(statistics.median(unstable)), float(statistics.median(others))


def _overfit_remedies(top: list[TrialRow], families: Callable[[dict[str, Any]], Any] | None) -> list[str]:
    """What the families of the overfitting top trials advise, each once, best trial's first, as
    ``"FAMILY: remedy"``; empty when they all give the default advice (networks: L2, dropout, epochs), which the
    recommendation words itself with the study's epoch numbers."""
    from automl.models import ModelFamily

    remedies: dict[str, str] = {}
    for row in top:
        if row.diagnosis.label != dg.OVERFITTING or families is None:
            continue
        try:
            family, _ = families(row.record.config)
        except Exception:  # no family to ask: the default advice
            continue
        remedies.setdefault(family.name, family.overfit_remedy)
    if all(text == ModelFamily.overfit_remedy for text in remedies.values()):
        return []
    return [f"{name}: {text}" for name, text in remedies.items()]


def _final_note(record: StudyRecord) -> str:
    if record.dataset:
        return "the winner has not been retrained and tested yet; run `automl report` without --no-evaluate"
    return "the study records no dataset (not created by automl search), so no model can be retrained and tested"


def report_data(study: Any, *, top_k: int = DEFAULT_TOP_K, storage: str = "") -> ReportData:
    """Everything the report shows, as numbers. ``storage`` is redacted again here, whatever the caller passed.

    A study recorded by a newer automl raises :class:`automl.study.record.RecordError` (one line).
    """
    from optuna.trial import TrialState

    from automl.study.storage import redact

    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise AutomlError(f"--top: must be an integer >= 1, got {top_k!r}; pass e.g. --top 5")
    record = read_study(study)
    if record.direction == "multi":
        raise AutomlError(f"study {record.name!r}: has several objectives and no primary one (not made by automl)")
    trials = study.get_trials(deepcopy=False)
    records = [read_trial(t) for t in trials]
    families = _family_resolver(record.space)
    rows = [
        TrialRow(r, dg.diagnose_trial(r, record.metric, record.maximize), _epochs_budget(r, families)) for r in records
    ]
    known_budgets = [r.epochs_budget for r in rows if r.epochs_budget]
    max_epochs = max(known_budgets) if known_budgets else max((r.epochs_trained or 0 for r in rows), default=0) or None
    for r in rows:  # plain Optuna studies record no budget: the longest run stands in for it
        if r.epochs_budget is None and max_epochs and r.epochs_trained is not None:
            r.epochs_budget = max(max_epochs, r.epochs_trained)
    top = top_rows(rows, top_k, record.maximize)
    summary = recommendation.summarize(
        [r.diagnosis for r in rows],
        [r.diagnosis for r in top],
        metric=record.metric,
        max_epochs=max_epochs,
        unstable_lr=_unstable_lr(rows),
        overfit_remedies=_overfit_remedies(top, families),
    )
    importances, importance_note = compute_importances(study, trials)
    final = final_estimate(record.final, record.metric, record.maximize) if record.final is not None else None
    return ReportData(
        study=record.name,
        storage=redact(storage) if storage else "",
        record=record,
        counts={s.name.lower(): sum(t.state == s for t in trials) for s in TrialState},
        rows=rows,
        top=top,
        summary=summary,
        importances=importances,
        importance_note=importance_note,
        final=final,
        final_note="" if final is not None else _final_note(record),
        seed_spreads=read_seed_spreads(record.seed_evaluations),
        pruning=pruning_stats(rows),
        max_epochs=max_epochs,
        generated=datetime.now().isoformat(timespec="seconds"),
        kept_models=kept_model_addresses(study),
        trade_off=recorded_trade_off(record.settings, f"study {record.name}", records),
    )
