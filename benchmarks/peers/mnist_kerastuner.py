"""KerasTuner's Hyperband on MNIST, the way its getting-started guide runs it: ``kt.Hyperband(objective=
"val_accuracy", max_epochs=...)`` and ``tuner.search(...)``, with its defaults otherwise (factor 3, a checkpoint
per trial). The space's parameters are declared through ``hp`` (a thin adapter over automl's space) and its
``batch_size`` is passed to ``fit`` by the hypermodel, as KerasTuner's guide shows for tuning fit arguments.

KerasTuner has no time budget of its own: a callback stops the running trial when the search's time is over and
sets the oracle's ``max_trials`` so that no further trial starts.

    PYTHONPATH=. .venv/bin/python benchmarks/peers/mnist_kerastuner.py --seed 0 --budget 300 --out r.json
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # the budget covers the imports too, as a user's job would

import tempfile  # noqa: E402
from typing import Any  # noqa: E402

import mnist_common as common  # noqa: E402


class HpSuggester:
    """Optuna's ``suggest_*`` calls (what automl's space samples through) as KerasTuner ``hp`` declarations."""

    def __init__(self, hp: Any) -> None:
        self.hp = hp

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> Any:
        return self.hp.Float(name, low, high, step=step, sampling="log" if log else "linear")

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> Any:
        return self.hp.Int(name, low, high, step=step, sampling="log" if log else "linear")

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self.hp.Choice(name, list(choices))


def main() -> None:
    parser = common.main_args(__doc__.splitlines()[0])
    args = parser.parse_args()
    budget = common.Budget(args.budget, STARTED)

    import keras_tuner as kt

    data = common.load_data(args.seed, args.limit)
    space = common.load_space()
    max_epochs = int(space.param("epochs").value)

    class Model(kt.HyperModel):
        def build(self, hp: Any) -> Any:
            return common.build(space.sample(HpSuggester(hp)), data)

        def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
            return model.fit(*args, batch_size=int(space.sample(HpSuggester(hp))["batch_size"]), **kwargs)

    with tempfile.TemporaryDirectory() as folder:
        tuner = kt.Hyperband(
            Model(), objective="val_accuracy", max_epochs=max_epochs, seed=args.seed, directory=folder,
            project_name="mnist", overwrite=True,
        )  # fmt: skip
        epochs_trained = 0

        def on_epoch(timer: Any) -> None:
            nonlocal epochs_trained
            epochs_trained += 1
            if budget.search_over():
                tuner.oracle.max_trials = 1  # create_trial answers STOPPED from now on

        def on_end(timer: Any) -> None:
            if timer.val and not timer.cut:
                budget.note(max(timer.val), timer.best_epoch, timer.seconds_per_epoch)
            if budget.search_over():  # no trial starts after the time is up
                tuner.oracle.max_trials = 1

        tuner.search(
            data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=max_epochs, verbose=0,
            callbacks=[common.epoch_callback(budget, on_epoch, on_end)],
        )  # fmt: skip
        search_seconds = budget.elapsed()
        best = tuner.oracle.get_best_trials(1)[0]
        config: dict[str, Any] = space.sample(HpSuggester(best.hyperparameters))
        trials = len(tuner.oracle.trials)
    # best_step counts from the run's own first epoch; a Hyperband trial that continues an earlier one started at
    # tuner/initial_epoch, and its model had trained that many epochs before
    epochs = int(best.hyperparameters.values.get("tuner/initial_epoch", 0)) + int(best.best_step) + 1
    test, final_epochs = common.retrain_and_score(config, epochs, data, budget, args.seed)
    common.write_result(
        args,
        budget,
        method="kerastuner_hyperband",
        test_accuracy=test,
        validation=float(best.score),
        trials=trials,
        epochs=epochs_trained,
        final_epochs=final_epochs,
        search_seconds=search_seconds,
        config=config,
        notes="Hyperband trials that continue an earlier one count once per run",
    )


if __name__ == "__main__":
    main()
