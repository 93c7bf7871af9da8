"""Optuna samplers and pruners from a space's settings: the study's, whichever engine runs its trials (the Optuna
backend asks the study for each trial, and so does Ray Tune's searcher)."""

from __future__ import annotations

import warnings

import optuna

from automl.spaces import SearchSettings, SearchSpace


def make_sampler(settings: SearchSettings, space: SearchSpace, seed: int | None) -> optuna.samplers.BaseSampler:
    """The space's sampler; with bounds (``search.constraints``) TPE and NSGA-II learn which region meets them."""
    bounded = BoundsCheck(settings) if settings.constraints else None
    if settings.sampler == "nsga2":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*constraints_func.*", category=FutureWarning)  # as for TPE
            return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=bounded)
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if settings.sampler == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    if settings.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    # Multivariate, grouped TPE models the conditional parameters (units_3 only with 3 layers) jointly;
    # the constant liar keeps parallel workers from proposing the same point. All three are "experimental".
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # Optuna 5 deprecates constraints_func (removal planned in 7) for Trial.set_constraint, which 4.x lacks;
        # both versions are supported (pyproject.toml), so the function stays until 4.x is dropped.
        warnings.filterwarnings("ignore", message=".*constraints_func.*", category=FutureWarning)
        return optuna.samplers.TPESampler(
            seed=seed,
            multivariate=True,
            group=True,
            constant_liar=True,
            n_startup_trials=10,
            constraints_func=bounded,
        )


class BoundsCheck:
    """Optuna's ``constraints_func``: each bound's violation for a finished trial (<= 0: it holds), from the values
    the search recorded (:data:`~automl.study.record.TrialKey.MEASURES`, the primary value); a trial that recorded
    none (failed, stopped by the time) violates every bound. A class, so that a sampler holding it pickles."""

    def __init__(self, settings: SearchSettings) -> None:
        self.constraints, self.metric = settings.constraints, settings.metric

    def __call__(self, trial: optuna.trial.FrozenTrial) -> list[float]:
        from automl.spaces.objectives import violations
        from automl.study.record import read_trial

        record = read_trial(trial)
        values = {**record.measures, **({self.metric: record.value} if record.value is not None else {})}
        return violations(values, self.constraints)


def make_pruner(settings: SearchSettings, max_epochs: int) -> optuna.pruners.BasePruner:
    if settings.multi_objective:  # Optuna's pruners compare one objective; parsing refuses another pruner
        return optuna.pruners.NopPruner()
    if settings.pruner == "median":
        # Gentle on purpose: aggressive pruning picks lucky early starters and inflates the winner's score.
        return optuna.pruners.MedianPruner(n_startup_trials=8, n_warmup_steps=4)
    if settings.pruner == "asha":
        # The fidelity ladder (automl.study.record.ladder): a trial is stopped at a rung unless it is in the best
        # 1/reduction_factor of the trials that reached it. Warm starts never ask (see OptunaReporter).
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=settings.min_epochs, reduction_factor=settings.reduction_factor, min_early_stopping_rate=0
        )
    if settings.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=2)
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=2, max_resource=max(max_epochs, 3))
    return optuna.pruners.NopPruner()


def fidelity_ladder(settings: SearchSettings, space: SearchSpace) -> tuple[int, ...]:
    """The rungs in epochs the asha pruner stops trials at, the space's epochs last; empty for other pruners."""
    from automl.study.record import ladder

    if settings.pruner != "asha" or settings.multi_objective:
        return ()
    return ladder(settings.min_epochs, settings.reduction_factor, max_epochs(space))


def max_epochs(space: SearchSpace) -> int:
    """The most epochs a trial of ``space`` can train (the pruners' resource), 10 when the space doesn't say."""
    epoch_params = [p for p in space.params if p.family_name == "epochs"]
    if not epoch_params:
        return 10
    p = epoch_params[0]
    if p.type == "fixed":
        return int(p.value)
    if p.type == "categorical":
        return int(max(p.choices))
    return int(p.bounds[1])
