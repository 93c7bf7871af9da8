"""Scheduled sweeps: a search that recurs on a cron schedule, each run warm-started from the run before (from its
finished trials when the data and space are unchanged, else from its top-K configurations re-run).

- :mod:`automl.sweeps.spec`: the sweep spec (YAML), validated like search spaces;
- :mod:`automl.sweeps.cron`: the one adapter over the cron library, with the time-zone and DST rules;
- :mod:`automl.sweeps.schedule`: pure decisions: which due times run (catch-up), and how (overlap);
- :mod:`automl.sweeps.tables`: the scheduler's tables (sweeps, runs, lease) and their rows;
- :mod:`automl.sweeps.state`: reading and writing them on a storage URL, exactly once;
- :mod:`automl.sweeps.scheduler`: the loop that turns due times into runs, exactly once;
- :mod:`automl.sweeps.run`: one run of a sweep (study naming, warm start or resume, its run.log, pruning old runs);
- :mod:`automl.sweeps.history`: runs over time, as rows and as a plot;
- :mod:`automl.sweeps.ray_jobs`: runs submitted to a Ray cluster through its job submission API.
"""
