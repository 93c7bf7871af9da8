"""Tracking: outside systems a search reports to as it goes, beside the study that remains its record.

- :mod:`~automl.tracking.mlflow_runs`: MLflow (``--mlflow URI``, ``search.mlflow``): a run per finished trial, one
  experiment per study, the final model in MLflow's model registry.

MLflow is an optional extra (``pip install 'automl[mlflow]'``): it is imported only when a search asks for it, so
this package re-exports nothing and ``import automl`` never loads it.
"""
