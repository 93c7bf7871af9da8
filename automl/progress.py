"""Progress of a running search: a live panel on a terminal, plain log lines anywhere else."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import optuna
from optuna.trial import TrialState

from automl.record import read_trial


class Progress:
    """Tracks the search and renders it. ``live=None`` picks the live panel only when output is a terminal."""

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
        self._live: Any = None

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def __enter__(self) -> Progress:
        if self.live and not self.quiet:
            from rich.live import Live

            self._live = Live(self._panel(), refresh_per_second=4, console=self._console(), transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._panel())
            self._live.__exit__(*exc)
            self._live = None

    def resume_from(self, study: optuna.Study) -> None:
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        self.done_before = len(trials)
        values = [t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
        if values:
            self.best = max(values) if self.maximize else min(values)

    # -- events ---------------------------------------------------------------------------------------------------
    def trial_started(self, number: int, config: dict[str, Any]) -> None:
        self.current = (number, 0, {})
        self._refresh()

    def epoch(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        self.current = (number, epoch, metrics)
        self._refresh()

    def trial_finished(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        state = trial.state.name.lower()
        if state in self.counts:
            self.counts[state] += 1
        if (
            trial.state == TrialState.COMPLETE
            and trial.value is not None
            and (self.best is None or (trial.value > self.best if self.maximize else trial.value < self.best))
        ):
            self.best = trial.value
        self.current = None
        if self._live is None and not self.quiet:
            record = read_trial(trial)
            detail = ""
            if trial.state == TrialState.COMPLETE:
                detail = f"value={trial.value:.4f} at epoch {record.best_epoch}"
            elif trial.state == TrialState.PRUNED:
                at = record.pruned_at_epoch if record.pruned_at_epoch is not None else "?"
                detail = f"at epoch {at}" + (f" ({record.prune_reason})" if record.prune_reason else "")
            elif trial.state == TrialState.FAIL:
                detail = record.fail_reason
            print(
                f"[automl] trial {trial.number} {state} {detail} | {self.status_line()}",
                file=self.stream,
                flush=True,
            )
        self._refresh()

    # -- rendering ------------------------------------------------------------------------------------------------
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
            number, epoch, metrics = self.current
            shown = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k in ("loss", "val_loss", "val_accuracy"))
            lines.append(f"running trial {number}, epoch {epoch} {shown}")
        return Panel("\n".join(lines), title=f"automl search - {self.study_name}")

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._panel())
