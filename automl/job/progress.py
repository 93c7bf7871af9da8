"""Progress of a running search: a live panel on a terminal, plain log lines anywhere else."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import optuna
from optuna.trial import TrialState

from automl.backends.callbacks import SearchCallback
from automl.job.ticker import Ticker
from automl.study.record import primary_value, read_trial


class Progress(SearchCallback):
    """Tracks the search, as a search callback, and renders it. ``live=None`` picks the live panel only when output
    is a terminal."""

    def __init__(
        self,
        study_name: str,
        budget: int | None,
        timeout: float | None,
        direction: str,
        *,
        live: bool | None = None,
        stream: TextIO | None = None,
        quiet: bool = False,
    ) -> None:
        self.study_name = study_name
        self.budget = budget
        self.timeout = timeout
        self.maximize = direction == "maximize"
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.quiet = quiet
        self.started = time.monotonic()
        self.counts = {"complete": 0, "pruned": 0, "fail": 0}
        self.done_before = 0
        self.best: float | None = None
        self.current: tuple[int, int, dict[str, float]] | None = None
        self._trial_started = self.started
        self._epoch_seconds: float | None = None
        self._live: Any = None
        self._ticker: Ticker | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def __enter__(self) -> Progress:
        if self.live and not self.quiet:
            from rich.live import Live

            self._live = Live(self._panel(), refresh_per_second=4, console=self._console(), transient=False)
            self._live.__enter__()
        elif not self.quiet:
            self._ticker = Ticker(lambda: f"[automl] {self.running_line()} | {self.status_line()}", self.stream)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        if self._live is not None:
            self._live.update(self._panel())
            self._live.__exit__(*exc)
            self._live = None

    def resume_from(self, study: optuna.Study) -> None:
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        self.done_before = len(trials)
        values = [v for t in trials if t.state == TrialState.COMPLETE and (v := primary_value(t)) is not None]
        if values:
            self.best = max(values) if self.maximize else min(values)

    # -- events ---------------------------------------------------------------------------------------------------
    def on_trial_start(self, number: int, config: dict[str, Any]) -> None:
        self.current = (number, 0, {})
        self._trial_started = time.monotonic()
        self._epoch_seconds = None
        self._refresh()

    def on_epoch(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        self.current = (number, epoch, metrics)
        if epoch > 0:
            self._epoch_seconds = (time.monotonic() - self._trial_started) / epoch
        self._refresh()

    def on_trial_end(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        state = trial.state.name.lower()
        if state in self.counts:
            self.counts[state] += 1
        value = primary_value(trial)
        if (
            trial.state == TrialState.COMPLETE
            and value is not None
            and (self.best is None or (value > self.best if self.maximize else value < self.best))
        ):
            self.best = value
        self.current = None
        if self._live is None and not self.quiet:
            record = read_trial(trial)
            detail = ""
            if trial.state == TrialState.COMPLETE:
                detail = f"value={value:.4f} at epoch {record.best_epoch}"
            elif trial.state == TrialState.PRUNED:
                at = record.pruned_at_epoch if record.pruned_at_epoch is not None else "?"
                detail = f"at epoch {at}" + (f" ({record.prune_reason})" if record.prune_reason else "")
            elif trial.state == TrialState.FAIL:
                detail = record.fail_reason
            line = f"[automl] trial {trial.number} {state} {detail} | {self.status_line()}"
            if self._ticker is not None:
                self._ticker.say(line)
            else:
                print(line, file=self.stream, flush=True)
        self._refresh()

    # -- rendering ------------------------------------------------------------------------------------------------
    def running_line(self) -> str:
        """The running trial: its epoch, seconds per epoch and time in it (or that none is running)."""
        if self.current is None:
            return "between trials"
        number, epoch, _ = self.current
        pace = f", {self._epoch_seconds:.1f} s/epoch" if self._epoch_seconds else ""
        return f"trial {number} running: epoch {epoch} done{pace}, {time.monotonic() - self._trial_started:.0f}s in"

    def status_line(self) -> str:
        elapsed = time.monotonic() - self.started
        done = self.done_before + self.counts["complete"] + self.counts["pruned"]
        budget = f"/{self.budget}" if self.budget else ""
        best = f"{self.best:.4f}" if self.best is not None else "-"
        remaining = f", {max(0.0, self.timeout - elapsed):.0f}s left" if self.timeout else ""
        return (
            f"trials {done}{budget} (pruned {self.counts['pruned']}, failed {self.counts['fail']}) "
            f"| best {best} | {elapsed:.0f}s elapsed{remaining}"
        )

    def _console(self) -> Any:
        from rich.console import Console

        return Console(file=self.stream)

    def _panel(self) -> Any:
        from rich.panel import Panel

        lines = [self.status_line()]
        if self.current is not None:
            _, _, metrics = self.current
            shown = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k.startswith("val_") or k == "loss")
            lines.append(f"{self.running_line()} {shown}")
        return Panel("\n".join(lines), title=f"automl search - {self.study_name}")

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._panel())


class StepLog:
    """Progress of the final stage: a line per step (member 2 of 3...), and, when a step runs long, its epoch,
    seconds per epoch and estimated time left, at least every 30 s. On a terminal the same lines appear."""

    def __init__(self, name: str, *, live: bool | None = None, quiet: bool = False, stream: TextIO | None = None):
        self.name = name
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.step = "starting"
        self.step_started = time.monotonic()
        self.position: tuple[int, int] | None = None  # epoch done, of epochs
        self.step_label = ""
        self._ticker = Ticker(self.status, self.stream)

    def __enter__(self) -> StepLog:
        if not self.quiet:
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ticker.stop()

    def say(self, text: str) -> None:
        self.step, self.step_started, self.position = text, time.monotonic(), None
        if not self.quiet:
            self._ticker.say(f"[automl] {self.name}: {text}")

    def epoch(self, label: str, epoch: int, epochs: int) -> None:
        self.position = (epoch, epochs)
        self.step_label = label

    def status(self) -> str:
        elapsed = time.monotonic() - self.step_started
        if self.position is None or self.position[0] == 0:
            return f"[automl] {self.name}: {self.step} ({elapsed:.0f}s so far)"
        epoch, epochs = self.position
        pace = elapsed / epoch
        return (
            f"[automl] {self.name}: {self.step_label}, epoch {epoch} of {epochs} ({pace:.1f} s/epoch), "
            f"about {pace * (epochs - epoch):.0f}s left in this step"
        )
