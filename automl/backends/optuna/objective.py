"""One Optuna trial: sample a configuration, train it through the engine-neutral runner, record the outcome."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import optuna

from automl import interrupts
from automl.backends.base import Deadline, TrialRunner, TrialStopped
from automl.backends.callbacks import CallbackList, SearchCallback
from automl.backends.optuna.attrs import TrialAttrs
from automl.errors import TrialFailed
from automl.spaces import SearchSpace
from automl.study.record import StopReason, TrialKey, outcome_attrs


def failure_text(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 300 characters), for a trial's ``fail_reason``."""
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0][:300] if text else ''}"


class OptunaReporter:
    """Relays each epoch to Optuna: the objective metric as an intermediate value (the pruners and the
    dashboard read it, written at once), the whole curve set as a user attribute (the reports read it, written
    with the trial's other attributes through ``attrs``). After each epoch it tells the callbacks, then stops the
    trial if the pruner says so, the search's deadline has passed or the trial's own time is up."""

    def __init__(
        self,
        trial: optuna.Trial,
        metric: str,
        deadline: Deadline,
        callbacks: SearchCallback,
        rungs: tuple[int, ...] = (),
        attrs: TrialAttrs | None = None,
    ) -> None:
        self.trial = trial
        self.attrs = attrs or TrialAttrs(deferred=False)
        self.rungs = rungs  # the fidelity ladder: the last rung reached is recorded as TrialKey.RUNG
        self.warm_start = trial.user_attrs.get(TrialKey.WARM_START) is True
        self.metric = metric
        self.deadline = deadline
        self.callbacks = callbacks
        self.curves: dict[str, list[float]] = {}
        self.started = deadline.now()  # on the deadline's clock: the per-trial cap is measured from it
        # Optuna's pruners read one objective: a multi-objective study records curves but reports no values.
        self.prunes = len(trial.study.directions) == 1

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        interrupts.check()  # an interrupt a library's callback swallowed during the epoch stops the trial here
        for key, value in metrics.items():
            self.curves.setdefault(key, []).append(value)
        self.attrs.set(self.trial, TrialKey.CURVES, self.curves)
        self.callbacks.on_epoch(self.trial.number, epoch, metrics)
        if epoch in self.rungs:
            self.attrs.set(self.trial, TrialKey.RUNG, self.rungs.index(epoch))
        if self.metric in metrics and self.prunes:
            self.trial.report(metrics[self.metric], epoch)
            # A warm start still asks, so its value at each rung is one the others must beat; it is never stopped.
            if self.trial.should_prune() and not self.warm_start:
                self.attrs.set(self.trial, TrialKey.PRUNED_AT_EPOCH, epoch)
                self.attrs.set(self.trial, TrialKey.PRUNE_REASON, StopReason.PRUNER.value)
                raise optuna.TrialPruned(f"pruned at epoch {epoch}: {self.metric}={metrics[self.metric]:.4f}")
        reason = self.deadline.stop_reason(self.started)
        if reason is not None:
            raise TrialStopped(reason, epoch)


def make_objective(
    space: SearchSpace,
    metric: str,
    runner: TrialRunner,
    deadline: Deadline,
    *,
    callbacks: Iterable[SearchCallback] = (),
    rungs: tuple[int, ...] = (),
    attrs: TrialAttrs | None = None,
) -> Callable[[optuna.Trial], float | list[float]]:
    """The Optuna objective: the trial's value, or with several objectives in ``space`` its values in their order
    (the primary metric first, the others from the outcome's measures). Its user attributes go to ``attrs``: with
    the loop's deferred one, they are written in one transaction as the trial ends (:mod:`.attrs`); without, each
    at once (for ``study.optimize``)."""
    hooks = CallbackList(callbacks)
    attrs = attrs or TrialAttrs(deferred=False)

    others = [o.metric for o in space.settings.all_objectives[1:]]

    def objective(trial: optuna.Trial) -> float | list[float]:
        config = space.sample(trial)
        attrs.set(trial, TrialKey.CONFIG, config)
        hooks.on_trial_start(trial.number, config)
        reporter = OptunaReporter(trial, metric, deadline, hooks, rungs, attrs)
        try:
            outcome = runner(config, reporter, trial.number)
        except KeyboardInterrupt:
            raise
        except optuna.TrialPruned:
            # What it trained is what the final stage's estimates learn from, pruned or not.
            attrs.set(trial, TrialKey.TRAIN_SECONDS, round(deadline.now() - reporter.started, 3))
            raise
        except TrialStopped as exc:
            attrs.set(trial, TrialKey.PRUNED_AT_EPOCH, exc.epoch)
            attrs.set(trial, TrialKey.PRUNE_REASON, StopReason(exc.reason).value)
            attrs.set(trial, TrialKey.EPOCHS_TRAINED, exc.epoch)
            attrs.set(trial, TrialKey.TRAIN_SECONDS, round(deadline.now() - reporter.started, 3))
            raise optuna.TrialPruned(str(exc)) from None
        except TrialFailed as exc:
            attrs.set(trial, TrialKey.FAIL_REASON, exc.reason)
            raise
        except Exception as exc:  # a configuration the library rejects, out of memory...: the trial fails
            attrs.set(trial, TrialKey.FAIL_REASON, failure_text(exc))
            raise
        for key, value in outcome_attrs(outcome).items():
            attrs.set(trial, key, value)
        if rungs:  # completed: the top rung, however early its own early stopping ended it
            attrs.set(trial, TrialKey.RUNG, len(rungs) - 1)
        if others:
            return [float(outcome.value), *(outcome.measures[m] for m in others)]
        return outcome.value

    return objective
