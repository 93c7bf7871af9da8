"""Search engines: each turns a space and an objective into trials recorded in an Optuna study.

- :mod:`~automl.backends.base`: the seam: an :class:`~automl.backends.base.Executor` runs trials until a budget or a
  :class:`~automl.backends.base.Deadline`; a :data:`~automl.backends.base.TrialRunner` trains one configuration;
- :mod:`~automl.backends.store`: the :class:`~automl.backends.store.StudyStore`, the study every engine records
  into (open or create it, count its finished trials, record its settings);
- :mod:`~automl.backends.prior_trials`: a new study that starts from an earlier one's finished trials (same data,
  space and objective), copied in so the sampler learns from them;
- :mod:`~automl.backends.factories`: the study's sampler and pruner, from the space's settings;
- :mod:`~automl.backends.callbacks`: :class:`~automl.backends.callbacks.SearchCallback`, the one protocol for what
  follows the trials (the job clock, progress, worker logs, dashboard notes), and its list;
- :mod:`~automl.backends.optuna` and :mod:`~automl.backends.ray`: the two executors, found by
  :class:`~automl.study.record.BackendName` through :func:`automl.job.pipeline.get_backend`.
"""
