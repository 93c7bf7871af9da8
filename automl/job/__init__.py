"""The job: one ``automl search`` from its data to its final model, inside one time budget. It drives a backend
(:mod:`automl.backends`) through the trials, then retrains the winner.

- :mod:`~automl.job.pipeline`: the steps every search and worker shares (data, space checks, backend, trials);
- :mod:`~automl.job.clock`: the whole-job budget and the time it holds back for the final stage;
- :mod:`~automl.job.baseline`: the baseline, trained before the search, and the references;
- :mod:`~automl.job.plan` and :mod:`~automl.job.final`: planning, then running, the final stage;
- :mod:`~automl.job.retrain`: retraining a finished study's trials for the report;
- :mod:`~automl.job.workers`: local worker processes; :mod:`~automl.job.progress`, :mod:`~automl.job.ticker`:
  what the user sees (Ctrl-C and SIGTERM are :mod:`automl.interrupts`, which the backends share).

Its modules are imported by name (``from automl.job.final import finalize``): this package re-exports nothing, so
that the CLI's light modules (progress) do not load the pipeline.
"""
