"""What every MNIST method of the peer benchmark shares: the data, the space, the budget rule, the final retraining
and the result record, so that the methods differ only in how they search.

The same for every method:
- data: automl's own split of MNIST for the seed (offline: the 5,000-image sample, 3,200 train / 800 validation /
  1,000 held-out test), so every winner is scored on the same 1,000 test images;
- space: ``search_spaces/mnist_cnn.yaml`` (automl's default), read by automl and handed to each peer through its own
  API (Optuna's ``suggest_*``, KerasTuner's ``hp``, Ray Tune's ``OptunaSearch`` define-by-run), and the model built
  from a configuration by the same code (the ``keras_cnn`` family's ``build`` and ``fit_final``; the retraining is
  a plain fit, see :func:`retrain_and_score`);
- budget: searching plus the final retraining share one wall-clock budget, started before the search's imports.
  A peer's search ends when the time left is what retraining its best configuration so far would take (that
  trial's seconds per epoch, times 1.25 for train+validation, times its epochs, plus 5 s); the retraining then stops
  at the budget's end if it would run over. automl holds its own reserve the same way, inside the product.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the peers import automl from this checkout, as the benchmarks above do
    sys.path.insert(0, str(REPO))
os.environ.setdefault("AUTOML_OFFLINE", "1")

SPACE = "mnist_cnn"
TRAIN_PLUS_VALIDATION = 1.25  # 4,000 images against the search's 3,200: a retrained epoch costs that much more
RESERVE_MARGIN_S = 5.0


class Budget:
    """One method's wall clock: how long its search may go on, given what its best configuration costs to retrain."""

    def __init__(self, seconds: float, started: float | None = None) -> None:
        self.seconds = seconds
        self.started = time.monotonic() if started is None else started
        self.best: tuple[float, int, float] | None = None  # (validation score, epochs to retrain, s per epoch)
        self.current: tuple[float, int, float] | None = None  # the same, for the first trial while it trains

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        return self.seconds - self.elapsed()

    def note(self, score: float, epochs: int, seconds_per_epoch: float) -> None:
        """A finished (or stopped) trial: keep it if it is the best so far."""
        if self.best is None or score > self.best[0]:
            self.best = (score, epochs, seconds_per_epoch)

    def reserve(self) -> float:
        """What retraining the best configuration so far would take; during the first trial, retraining it for the
        epochs it has trained (so a budget too short for one whole trial still ends on a retrained model)."""
        basis = self.best or self.current
        if basis is None:
            return 0.0
        _, epochs, per_epoch = basis
        return epochs * per_epoch * TRAIN_PLUS_VALIDATION + RESERVE_MARGIN_S

    def search_over(self) -> bool:
        return self.left() <= self.reserve()


def machine() -> str:
    """The machine this run had: its processor and this boot of it. The project's machines are VMs whose hosts
    differ between sessions (one session's epochs took twice another's), so figures are compared only between runs
    of one boot; the report flags a budget whose runs had several."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    model = fields.get("model name\t", "").strip() or "unknown CPU"
    flags = fields.get("flags\t\t", "").split()
    vectors = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    boot = Path("/proc/sys/kernel/random/boot_id")
    return f"{model}, {os.cpu_count()} cores, {vectors}, boot {boot.read_text()[:8] if boot.exists() else '?'}"


def matmul_gflops() -> float:
    """The machine's speed on a fixed float32 matrix product, measured after the run's test score (outside its
    budget): for reading, not for grouping, as it moves with the load."""
    import numpy as np

    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    started = time.perf_counter()
    for _ in range(20):
        a @ a
    return round(20 * 2 * 1024**3 / (time.perf_counter() - started) / 1e9, 1)


@dataclass
class Result:
    """One method's run on one seed and budget; what the benchmark's tables are made of."""

    method: str
    seed: int
    budget: float
    test_accuracy: float
    validation: float  # the winner's validation score, as the method reports it
    trials: int  # configurations that trained at least one epoch
    epochs: int  # epochs trained by the search, all trials together
    final_epochs: int  # epochs of the final retraining
    wall: float  # seconds from the start to the test score
    search_seconds: float
    config: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    machine: str = field(default_factory=machine)
    matmul_gflops: float = field(default_factory=matmul_gflops)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1, default=str) + "\n")


def write_result(args: Any, budget: Budget, **fields: Any) -> None:
    """A peer's :class:`Result`, its seed, budget and wall time taken from its command line and clock."""
    Result(seed=args.seed, budget=args.budget, wall=budget.elapsed(), **fields).write(args.out)


def load_data(seed: int, limit: int | None = None) -> Any:
    """automl's split of MNIST for ``seed`` (``limit``: fewer images, for the quick run)."""
    from automl.data import load_dataset

    return load_dataset("mnist", seed=seed, limit=limit)


def load_space() -> Any:
    from automl.spaces import load_space as load

    return load(SPACE)


def family() -> Any:
    from automl.models.registry import get_family

    return get_family("keras_cnn")


def build(config: dict[str, Any], data: Any) -> Any:
    """The compiled Keras model of ``config``: the same code automl's trials run."""
    return family().build(config, data.input_dim, data.n_classes)


class _StopAtDeadline:
    """Ends the final retraining after the epoch that reaches the budget's end (the family's reporter contract)."""

    def __init__(self, budget: Budget, per_epoch_estimate: float) -> None:
        self.budget, self.per_epoch = budget, per_epoch_estimate
        self.epochs = 0

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        from automl.models.base import TrainingStopped

        self.epochs = epoch
        if self.budget.left() < self.per_epoch:
            raise TrainingStopped()


def retrain_and_score(config: dict[str, Any], epochs: int, data: Any, budget: Budget, seed: int) -> tuple[float, int]:
    """Retrain ``config`` on train+validation for ``epochs`` epochs, or fewer where the budget ends first, and score
    it once on the test split: (test accuracy, epochs trained).

    A plain fit, as the peers' guides retrain their winners: without the space's ``final_ema``, the moving average
    of the weights automl's own final stage adds (over a retraining of a few epochs, as Hyperband's winners get, an
    average with momentum 0.99 still holds much of the initial weights)."""
    config = {k: v for k, v in config.items() if k != "final_ema"}
    basis = budget.best or budget.current
    per_epoch = basis[2] * TRAIN_PLUS_VALIDATION if basis else 0.0
    stopper = _StopAtDeadline(budget, per_epoch)
    model = family().fit_final(config, data, max(1, epochs), seed, reporter=stopper)
    evaluation = family().evaluate(model, data.x_test, data.y_test)
    return float(evaluation.metrics["accuracy"]), stopper.epochs


def epoch_callback(budget: Budget, on_epoch: Any = None, on_end: Any = None) -> Any:
    """A Keras callback that times epochs and stops training once the search's time is over; ``on_epoch`` and
    ``on_end`` are called with it after each epoch and at the end of training. Its state is its own and it holds the
    budget only through this closure, so a tuner that deep-copies callbacks for each trial (KerasTuner) gets a
    fresh timer per trial that still shares the budget."""
    import keras

    class Deadline(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epoch_seconds: list[float] = []
            self.val: list[float] = []
            self.numbers: list[int] = []  # 1-based epoch numbers: a run resumed at initial_epoch starts past 1
            self.cut = False

        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self._started = time.monotonic()

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self.epoch_seconds.append(time.monotonic() - self._started)
            self.val.append(float((logs or {}).get("val_accuracy", 0.0)))
            self.numbers.append(epoch + 1)
            budget.current = (max(self.val), self.best_epoch, self.seconds_per_epoch)
            if on_epoch is not None:
                on_epoch(self)
            if budget.search_over():
                self.cut = True
                self.model.stop_training = True

        def on_train_end(self, logs: dict[str, float] | None = None) -> None:
            if on_end is not None:
                on_end(self)

        @property
        def best_epoch(self) -> int:
            return self.numbers[self.val.index(max(self.val))]

        @property
        def seconds_per_epoch(self) -> float:
            return sum(self.epoch_seconds) / max(1, len(self.epoch_seconds))

    return Deadline()


def main_args(description: str) -> Any:
    """The command line every method's script takes."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=300.0, help="wall-clock seconds, searching and retraining")
    parser.add_argument("--limit", type=int, help="use only this many images (the quick run)")
    parser.add_argument("--out", type=Path, required=True, help="the JSON result file to write")
    return parser
