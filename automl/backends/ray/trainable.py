"""The function trainable: one trial of the space's family inside a Ray worker, one ``ray.tune.report`` per epoch.

The worker never opens the study: it reports each epoch's metrics, and at the end the outcome or the failure, and
the driver writes the record (:mod:`.searcher`). Workers stay warm: Tune reuses their actors across trials
(``reuse_actors``) and the runner, with the dataset in it, comes from Ray's object store (``with_parameters``), so
imports, thread pools and data loading happen once per worker, not once per trial.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from typing import Any

from automl.errors import TrialFailed

# Keys of the results the trainable reports (Tune adds its own: time_total_s, training_iteration, ...).
EPOCH = "epoch"  # 1-based epochs trained; the schedulers' time attribute
METRICS = "automl_metrics"  # JSON: the epoch's metrics as the family reported them
TRAIN_SECONDS = "automl_train_s"  # seconds inside the family's training so far (waits on Tune excluded)
WORKER = "automl_worker"  # host:pid of the worker process
NODE = "automl_node"  # the Ray node id
OUTCOME = "automl_outcome"  # JSON, final result only: the family's TrialOutcome
FAILED = "automl_failed"  # final result only: why the configuration could not train

_warm_families: set[str] = set()  # families whose thread pools this worker process has sized


def _warm_up(families: tuple[str, ...], threads: int) -> None:
    """Once per worker process, not per trial: size each family's thread pools to the trial's CPUs."""
    from automl.models.registry import get_family

    for name in families:
        if name not in _warm_families:
            get_family(name).configure_threads(threads)
            _warm_families.add(name)


class TuneReporter:
    """The family's reporter inside a Ray worker. ``tune.report`` blocks until the driver asks for the next
    result, so the driver's decision (a scheduler's or the deadline's stop) takes effect at this epoch's end."""

    def __init__(self, metric: str) -> None:
        import ray

        self.metric = metric
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.node = ray.get_runtime_context().get_node_id()
        self.train_seconds = 0.0
        self.resumed = time.perf_counter()
        self.last: dict[str, Any] = {EPOCH: 0, metric: math.nan}

    def _send(self, result: dict[str, Any]) -> None:
        from ray import tune

        self.train_seconds += time.perf_counter() - self.resumed
        tune.report({**result, TRAIN_SECONDS: self.train_seconds, WORKER: self.worker, NODE: self.node})
        self.resumed = time.perf_counter()

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        self.last = {EPOCH: int(epoch), self.metric: float(metrics.get(self.metric, math.nan))}
        self._send({**self.last, METRICS: json.dumps(metrics)})

    def finish(self, *, outcome: Any = None, failed: str | None = None) -> None:
        """The final result: the last epoch again, plus the outcome or the failure."""
        if failed is not None:
            self._send({**self.last, FAILED: failed})
            return
        self._send(
            {
                **self.last,
                OUTCOME: json.dumps(
                    {
                        "value": float(outcome.value),
                        "best_epoch": int(outcome.best_epoch),
                        "epochs_trained": int(outcome.epochs_trained),
                        "history": outcome.history,
                        "n_params": int(outcome.n_params),
                        "train_seconds": float(outcome.train_seconds),
                    }
                ),
            }
        )


def train_trial(
    config: dict[str, Any], runner: Any = None, metric: str = "", families: tuple[str, ...] = (), threads: int = 1
) -> None:
    """Tune's function trainable. ``config`` is ``{"config": sampled configuration, "number": trial number}``;
    ``runner`` (an :data:`automl.backends.base.TrialRunner`) and the rest come through ``tune.with_parameters``."""
    from automl.backends.optuna.objective import failure_text

    _warm_up(families, threads)
    reporter = TuneReporter(metric)
    try:
        outcome = runner(dict(config["config"]), reporter, int(config["number"]))
    except TrialFailed as exc:  # a configuration that cannot train: recorded, not retried
        reporter.finish(failed=exc.reason)
    except Exception as exc:  # a value the library rejects, out of memory...: the same, with the error's name
        reporter.finish(failed=failure_text(exc))
    else:
        reporter.finish(outcome=outcome)
