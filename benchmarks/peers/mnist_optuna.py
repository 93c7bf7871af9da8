"""Plain Optuna on MNIST, the way its quickstart runs it: ``study.optimize`` in one process, no pruning, each trial
training its configuration's full epochs and returning the last epoch's validation accuracy. ``--sampler tpe``
is Optuna's default sampler at its defaults; ``--sampler random`` is random search.

    PYTHONPATH=. .venv/bin/python benchmarks/peers/mnist_optuna.py --sampler tpe --seed 0 --budget 300 --out r.json
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # the budget covers the imports too, as a user's job would

from typing import Any  # noqa: E402

import mnist_common as common  # noqa: E402


def main() -> None:
    parser = common.main_args(__doc__.splitlines()[0])
    parser.add_argument("--sampler", choices=("tpe", "random"), required=True)
    args = parser.parse_args()
    budget = common.Budget(args.budget, STARTED)

    import keras
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = common.load_data(args.seed, args.limit)
    space = common.load_space()
    sampler = (
        optuna.samplers.TPESampler(seed=args.seed)
        if args.sampler == "tpe"
        else optuna.samplers.RandomSampler(seed=args.seed)
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    epochs_trained = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal epochs_trained
        config = space.sample(trial)
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed + trial.number)
        model = common.build(config, data)
        timer = common.epoch_callback(budget)
        model.fit(
            data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=int(config["epochs"]),
            batch_size=int(config["batch_size"]), verbose=0, callbacks=[timer],
        )  # fmt: skip
        epochs_trained += len(timer.val)
        trial.set_user_attr("epochs", len(timer.val))
        if timer.cut:  # the budget ended this run: the search is over
            study.stop()
            if budget.best is not None:  # an unfinished configuration does not compete with finished ones
                raise optuna.TrialPruned()
        budget.note(timer.val[-1], len(timer.val), timer.seconds_per_epoch)
        return timer.val[-1]

    def over(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:  # no trial starts after the time is up
        if budget.search_over():
            study.stop()

    study.optimize(objective, callbacks=[over])  # no n_trials, no timeout: the budget rule stops it
    search_seconds = budget.elapsed()
    best = study.best_trial
    config: dict[str, Any] = space.sample(optuna.trial.FixedTrial(best.params))
    test, final_epochs = common.retrain_and_score(config, int(best.user_attrs["epochs"]), data, budget, args.seed)
    common.write_result(
        args,
        budget,
        method="random" if args.sampler == "random" else "optuna_tpe",
        test_accuracy=test,
        validation=float(best.value),
        trials=len(study.trials),
        epochs=epochs_trained,
        final_epochs=final_epochs,
        search_seconds=search_seconds,
        config=config,
    )


if __name__ == "__main__":
    main()
