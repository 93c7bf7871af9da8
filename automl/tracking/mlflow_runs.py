"""MLflow tracking: each finished trial as an MLflow run, and the final model in MLflow's model registry.

``automl search --mlflow URI`` (or ``search.mlflow: URI`` in the space; the flag wins) opens :class:`MlflowRuns`
before the first trial. Everything it writes is read from the study, so MLflow shows what the reports say:

- one experiment per study, named after the study; a resumed study logs into the same one;
- one run per finished trial (complete, pruned or failed), named ``trial N``: the full configuration as
  parameters; the per-epoch curves as metrics (step = epoch); ``objective`` (the trial's value), ``best_epoch``,
  ``epochs_trained``, ``train_seconds`` and ``n_params``; tags ``automl.trial``, ``automl.state`` and
  ``automl.diagnosis`` with ``automl.diagnosis_reason`` (the reports' diagnosis of its curves);
- after the final stage, a run named ``final``: the winner's configuration, every held-out metric as
  ``test_<name>``, and the saved model file with its ``config.yaml`` as artifacts under ``model/``. That folder is
  registered as a new version of the registered model named after the study, tagged with the test score. No MLflow
  flavour (pyfunc) is written: each family saves its own format (``model.keras``, skops, JSON), which its loader
  and ``automl predict`` read.

Trials this process did not run (the other workers of ``--workers N``, ``automl worker`` elsewhere) are logged when
the search concludes (:meth:`MlflowRuns.sync`), as is any trial whose run could not be written at the time; a
trial gets one run (its ``automl.trial`` tag says which).

Failures: a missing package or a store MLflow cannot open is a one-line error before the first trial. Once trials
run, MLflow failing (a server gone away) costs a warning, never the search or its final model: the study keeps
everything, and the next sync writes what was missed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from automl.backends.callbacks import SearchCallback
from automl.study.record import TrialRecord, is_finite_number, read_trial
from automl.study.study_record import FinalRecord, read_study
from automl.validation import ArgumentError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

log = logging.getLogger(__name__)

INSTALL = "pip install 'automl[mlflow]'"
EXAMPLE_URIS = "sqlite:///mlflow.db, file:./mlruns or http://HOST:5000"
RUN_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "FINISHED", "FAIL": "FAILED"}  # the trial states that get a run
KIND, TRIAL = "automl.kind", "automl.trial"  # tags: which runs are automl's trials, and which trial each is
MODEL_DIR = "model"  # the final run's artifact folder, the one registered
DATABASES = ("postgresql", "mysql", "mssql")  # SQLAlchemy stores: MLflow retries an unreachable one for 100 s
# While the store is first opened, a server that does not answer fails in seconds rather than after MLflow's
# default retries (minutes); values the user set win.
PROBE_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "15"}
VALUE_LIMIT = 5000  # characters: MLflow keeps parameter values up to 6000 and tag values up to 8000
PARAM_BATCH, METRIC_BATCH = 100, 1000  # MLflow's limits on one log_batch


class MlflowSetupError(ArgumentError):
    """MLflow cannot be used as asked, named where the URI came from: ``source`` is ``mlflow`` (the Python
    argument, ``--mlflow`` on the command line) or a space's or study's ``search.mlflow``."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(source, problem, None, None, flag="--mlflow" if source == "mlflow" else source)
        self.args = (f"{source}: {problem}",)

    def for_cli(self) -> str:
        return f"{self.flag}: {self.rule}"


def require_mlflow(source: str) -> None:
    """Fail in one line when the mlflow package is missing: checked before the storage and the data."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise MlflowSetupError(
            source, f"needs the mlflow package, which is not installed here; install it with {INSTALL}"
        ) from None


def check_store(uri: str, source: str) -> None:
    """Fail in one line, before the storage and the data are opened, when the package is missing or MLflow cannot
    use ``uri`` (an unknown scheme, a database or server that does not answer)."""
    with _opening(uri, source) as client:
        client.search_experiments(max_results=1)


def open_runs(uri: str | None, study: Any, source: str) -> MlflowRuns | None:
    """The study's MLflow runs, opened before the first trial (None without a URI); ``source`` names where the URI
    came from in errors."""
    return MlflowRuns.open(uri, study, source) if uri else None


def redact_uri(uri: str) -> str:
    """``uri`` with its password hidden, safe to print."""
    try:
        parts = urlsplit(uri)
        if parts.password is None:
            return uri
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{parts.hostname or ''}{port}"))
    except ValueError:
        return "<unparseable URI>"


def _first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= 300 else text[:297] + "..."


@contextlib.contextmanager
def _opening(uri: str, source: str) -> Iterator[MlflowClient]:
    """A client on ``uri`` for a first look at the store: MLflow's errors inside become one line naming ``source``."""
    require_mlflow(source)
    import mlflow
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    if urlsplit(uri).scheme in ("", "file"):
        # MLflow 3 keeps the file store in maintenance mode and refuses it unless told; naming it is telling.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    # MLflow's file registry reads model versions through a client on the process's default URI, not the one it
    # was given (MLflow 3.18): point the process at this store too.
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    added = [key for key in PROBE_ENV if key not in os.environ]
    os.environ.update({key: PROBE_ENV[key] for key in added})
    try:
        _check_database(uri)
        yield mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    except (MlflowException, SQLAlchemyError, OSError) as exc:
        problem = (
            f"MLflow cannot use {redact_uri(uri)!r} ({_first_line(exc)}); give a tracking URI such as {EXAMPLE_URIS}"
        )
        raise MlflowSetupError(source, problem) from None
    finally:
        for key in added:
            os.environ.pop(key, None)


def _check_database(uri: str) -> None:
    """Connect once to a database tracking store, so that one that is down fails now, not after MLflow's retries."""
    if urlsplit(uri).scheme.split("+")[0] not in DATABASES:
        return
    from sqlalchemy import create_engine

    engine = create_engine(uri)
    try:
        with engine.connect():
            pass
    finally:
        engine.dispose()


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _now() -> int:
    return int(time.time() * 1000)


def _text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 3] + "..."


class MlflowRuns(SearchCallback):
    """The study's MLflow experiment: a search callback that logs each finished trial, and the final model's
    registration (:meth:`conclude`). Open it with :meth:`open`."""

    def __init__(self, client: MlflowClient, uri: str, experiment_id: str, study_name: str) -> None:
        self.client = client
        self.uri = uri
        self.experiment_id = experiment_id
        self.study_name = study_name
        self.model_name = study_name.replace("/", "-").replace(":", "-")  # MLflow refuses both in a model's name
        self.model_uri = ""  # models:/NAME/VERSION, once the final model is registered
        self._lock = threading.Lock()  # trials may end on several threads at once
        self._logged: set[int] = set()

    @classmethod
    def open(cls, uri: str, study: Any, source: str) -> MlflowRuns:
        """The experiment of ``study`` in the store at ``uri`` (created on first use), or a one-line error."""
        with _opening(uri, source) as client:
            runs = cls(client, uri, _experiment(client, study.study_name), study.study_name)
            runs._logged = runs._logged_trials()
        log.info("mlflow: logging trials to experiment %r at %s", study.study_name, redact_uri(uri))
        return runs

    # -- trials -----------------------------------------------------------------------------------------------------
    def on_trial_end(self, study: Any, trial: Any) -> None:
        try:
            self.log_trial(study, trial)
        except Exception as exc:  # the study has the trial; sync() writes its run later
            log.warning("mlflow: trial %d not logged yet (%s)", trial.number, _first_line(exc))

    def log_trial(self, study: Any, trial: Any) -> bool:
        """Write the run of one finished trial, once; False if it has one already or is not finished."""
        from mlflow.entities import Metric

        record = read_trial(trial)
        with self._lock:
            if record.state not in RUN_STATUS or record.number in self._logged:
                return False
            self._logged.add(record.number)
        try:
            tags = {KIND: "trial", TRIAL: str(record.number), **_trial_tags(study, record)}
            run = self.client.create_run(
                self.experiment_id,
                start_time=_millis(record.datetime_start),
                tags=tags,
                run_name=f"trial {record.number}",
            )
            run_id = run.info.run_id
            at = _millis(record.datetime_complete) or _now()
            metrics = [
                Metric(name, float(value), at, epoch)
                for name, values in record.curves.items()
                for epoch, value in enumerate(values, start=1)
                if is_finite_number(value)
            ]
            metrics += [Metric(name, value, at, 0) for name, value in _trial_numbers(record).items()]
            self._log(run_id, metrics=metrics, params=record.config)
            self.client.set_terminated(run_id, RUN_STATUS[record.state], end_time=at)
        except BaseException:
            with self._lock:  # not logged after all: the next sync tries again
                self._logged.discard(record.number)
            raise
        return True

    def sync(self, study: Any) -> int:
        """Log every finished trial of ``study`` that has no run yet; returns how many were logged."""
        return sum(self.log_trial(study, trial) for trial in study.get_trials(deepcopy=False))

    # -- the final model ----------------------------------------------------------------------------------------------
    def conclude(self, study: Any, final: FinalRecord | None) -> None:
        """After the final stage: log the trials still missing, then the final model and its registration. MLflow
        failing here costs a warning: the study, the report and the model file are already written."""
        try:
            missing = self.sync(study)
            if missing:
                log.info("mlflow: logged %d trial(s) run by other workers or missed before", missing)
            if final is not None and final.model_path:
                self.model_uri = self.register_final(final)
                log.info("mlflow: registered %s (test %s %.4f)", self.model_uri, final.test_metric, final.test_value)
        except Exception as exc:
            log.warning("mlflow: the final model was not logged or registered (%s)", _first_line(exc))

    def register_final(self, final: FinalRecord) -> str:
        """Log the final run (configuration, held-out metrics, model files) and register its ``model/`` folder as
        a new version of the registered model named after the study (``/`` and ``:`` made ``-``, which MLflow
        refuses there); returns ``models:/NAME/VERSION``."""
        from mlflow.entities import Metric
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

        score = {"automl.test_metric": final.test_metric, "automl.test_value": repr(final.test_value)}
        tags = {KIND: "final", "automl.best_trial": str(final.best_trial), **score}
        run = self.client.create_run(self.experiment_id, tags=tags, run_name="final")
        run_id = run.info.run_id
        numbers = {f"test_{name}": value for name, value in final.test_metrics.items()}
        numbers.update({"objective": final.val_value, "epochs": final.epochs, "n_test": final.n_test})
        held_out = f"test_{final.test_metric}"
        extras = {f"{held_out}_ci_low": final.ci_low, f"{held_out}_ci_high": final.ci_high}
        extras[f"baseline_{held_out}"] = final.baseline_test_value
        numbers.update({name: value for name, value in extras.items() if value is not None})
        metrics = [Metric(name, float(value), _now(), 0) for name, value in numbers.items() if is_finite_number(value)]
        self._log(run_id, metrics=metrics, params=final.config)
        for path in (final.model_path, final.config_path):
            if path and Path(path).is_dir():
                self.client.log_artifacts(run_id, str(path), f"{MODEL_DIR}/{Path(path).name}")
            elif path:
                self.client.log_artifact(run_id, str(path), MODEL_DIR)
        self.client.set_terminated(run_id, "FINISHED")
        try:
            self.client.create_registered_model(self.model_name, tags={"automl.study": self.study_name})
        except MlflowException as exc:  # registered by an earlier final stage of this study: a new version
            if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
        version = self.client.create_model_version(
            self.model_name,
            f"runs:/{run_id}/{MODEL_DIR}",
            run_id=run_id,
            tags=score,
            description=f"automl study {self.study_name}: trial {final.best_trial}'s configuration, retrained; "
            f"held-out {final.test_metric} {final.test_value:.4f} on {final.n_test} examples",
        )
        return f"models:/{self.model_name}/{version.version}"

    # -- helpers ------------------------------------------------------------------------------------------------------
    def _log(self, run_id: str, *, metrics: list[Metric], params: Mapping[str, Any]) -> None:
        """Parameters and metrics in batches of MLflow's sizes."""
        from mlflow.entities import Param

        pairs = [Param(str(key), _text(value)) for key, value in params.items()]
        for start in range(0, len(pairs), PARAM_BATCH):
            self.client.log_batch(run_id, params=pairs[start : start + PARAM_BATCH])
        for start in range(0, len(metrics), METRIC_BATCH):
            self.client.log_batch(run_id, metrics=metrics[start : start + METRIC_BATCH])

    def _logged_trials(self) -> set[int]:
        """The trials that have a finished run already; a run left running by a failed write is deleted."""
        logged: set[int] = set()
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], filter_string=f"tags.`{KIND}` = 'trial'", max_results=1000, page_token=token
            )
            for run in page:
                number = run.data.tags.get(TRIAL, "")
                if run.info.status == "RUNNING":
                    self.client.delete_run(run.info.run_id)
                elif number.isdigit():
                    logged.add(int(number))
            token = page.token
            if not token:
                return logged


def _experiment(client: MlflowClient, name: str) -> str:
    """The id of the experiment named ``name``: created on first use, restored if it was deleted."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return client.create_experiment(name, tags={"automl.study": name})
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return str(experiment.experiment_id)


def _trial_tags(study: Any, record: TrialRecord) -> dict[str, str]:
    from automl.analysis.diagnostics import diagnose_trial

    study_record = read_study(study)
    diagnosis = diagnose_trial(record, study_record.metric, study_record.maximize)
    tags = {
        "automl.study": study.study_name,
        "automl.metric": study_record.metric,
        "automl.state": record.state,
        "automl.diagnosis": diagnosis.title,
        "automl.diagnosis_reason": _text(diagnosis.reason),
    }
    optional = {
        "automl.prune_reason": record.prune_reason,
        "automl.fail_reason": _text(record.fail_reason),
        "automl.worker": record.worker,
        "automl.warm_start": "true" if record.warm_start else "",
    }
    return {**tags, **{key: value for key, value in optional.items() if value}}


def _trial_numbers(record: TrialRecord) -> dict[str, float]:
    numbers: dict[str, float | None] = {
        "objective": record.value,
        "best_epoch": record.best_epoch,
        "epochs_trained": record.epochs_seen,
        "train_seconds": record.train_seconds,
        "n_params": record.n_params,
    }
    return {name: float(value) for name, value in numbers.items() if value is not None and is_finite_number(value)}
