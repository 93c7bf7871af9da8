"""Ray Tune on MNIST with ASHA and ``OptunaSearch``, the way Ray's guides put them together: a function trainable
that reports ``val_accuracy`` after each epoch, ``ASHAScheduler(max_t=<the space's epochs>)`` and
``OptunaSearch`` (define-by-run over automl's space) at their defaults otherwise, on a local Ray started by
``ray.init()`` (one CPU per trial, as Ray's default, so two trials run at once on two cores).

A stopper ends the experiment when the search's time is over (Ray's ``time_budget_s`` cannot hold time back for
the retraining); the winner is the best result of all trials (``scope="all"``), retrained for the epoch it was
read at.

    PYTHONPATH=. .venv/bin/python benchmarks/peers/mnist_ray.py --seed 0 --budget 300 --out r.json
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # the budget covers the imports and Ray's start, as a user's job would

import os  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import mnist_common as common  # noqa: E402

METRIC = "val_accuracy"


def trainable(config: dict[str, Any], data: Any = None, seed: int = 0) -> None:
    """One configuration, trained epoch by epoch in a Ray worker, reporting each epoch to Tune."""
    import keras
    from ray import tune

    from automl.models.registry import get_family

    class Report(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            self.started = time.monotonic()

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            seconds = time.monotonic() - self.started
            tune.report({METRIC: float((logs or {})[METRIC]), "epoch": epoch + 1, "epoch_seconds": seconds})

    keras.utils.set_random_seed(seed)
    model = get_family("keras_cnn").build(config, data.input_dim, data.n_classes)
    model.fit(
        data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=int(config["epochs"]),
        batch_size=int(config["batch_size"]), verbose=0, callbacks=[Report()],
    )  # fmt: skip


def define(trial: Any) -> dict[str, Any]:
    """Ray's define-by-run space: sample through the Optuna trial, and return the space's fixed values. At module
    level, because Ray pickles the searcher with its space when it checkpoints the experiment."""
    config = common.load_space().sample(trial)
    return {k: v for k, v in config.items() if k not in trial.params}


def main() -> None:
    parser = common.main_args(__doc__.splitlines()[0])
    args = parser.parse_args()
    budget = common.Budget(args.budget, STARTED)

    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    data = common.load_data(args.seed, args.limit)
    space = common.load_space()

    class BudgetStopper(tune.Stopper):
        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            # Trials share the cores (one CPU each), and the retraining runs alone: an epoch of it takes about
            # the search's epoch divided by the trials that ran at once
            alone = float(result["epoch_seconds"]) / at_once
            budget.note(float(result[METRIC]), int(result["epoch"]), alone)
            return False

        def stop_all(self) -> bool:
            # Not before a first result: the search must end on a trained configuration. Ray's start, which the
            # budget counts, can take most of a short budget on a busy machine (the quick run's short budget in CI).
            return budget.best is not None and budget.search_over()

    here = str(Path(__file__).resolve().parent)
    path = os.pathsep.join([here, str(common.REPO), os.environ.get("PYTHONPATH", "")])
    # address="local": a Ray of its own, as ray.init() starts on a machine without one, even where a cluster runs
    ray.init(
        address="local", include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": path}},
        log_to_driver=False,
    )  # fmt: skip
    at_once = max(1, int(ray.cluster_resources().get("CPU", 1)))  # Ray's default: one CPU per trial
    try:
        with tempfile.TemporaryDirectory() as folder:
            tuner = tune.Tuner(
                tune.with_parameters(trainable, data=data, seed=args.seed),
                tune_config=tune.TuneConfig(
                    metric=METRIC, mode="max", num_samples=-1,
                    search_alg=OptunaSearch(space=define, metric=METRIC, mode="max", seed=args.seed),
                    scheduler=ASHAScheduler(max_t=int(space.param("epochs").value)),
                ),
                run_config=tune.RunConfig(stop=BudgetStopper(), storage_path=folder, verbose=0),
            )  # fmt: skip
            results = tuner.fit()
            search_seconds = budget.elapsed()
            best = results.get_best_result(metric=METRIC, mode="max", scope="all")
            curve = best.metrics_dataframe
            at = int(curve[METRIC].idxmax())
            epochs = int(curve["epoch"][at])
            validation = float(curve[METRIC][at])
            config: dict[str, Any] = dict(best.config)
            trials = sum(1 for r in results if r.metrics_dataframe is not None and len(r.metrics_dataframe))
            epochs_trained = sum(len(r.metrics_dataframe) for r in results if r.metrics_dataframe is not None)
    finally:
        ray.shutdown()
    test, final_epochs = common.retrain_and_score(config, epochs, data, budget, args.seed)
    common.write_result(
        args,
        budget,
        method="ray_asha",
        test_accuracy=test,
        validation=validation,
        trials=trials,
        epochs=epochs_trained,
        final_epochs=final_epochs,
        search_seconds=search_seconds,
        config=config,
    )


if __name__ == "__main__":
    main()
