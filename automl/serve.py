"""A search's final model in use: :func:`load_model` reads it from a study or an exported folder, and
:meth:`LoadedModel.predict` turns new rows (a table) or images into predictions in the user's own labels.

Where the labels come from: the study's ``labels`` attribute (recorded by the search since class names were kept)
or the ``labels`` entry of an exported ``config.yaml``. A study or export made before has none: predictions are then
the model's output indices (0..k-1 in the sorted order of the original values), and a warning says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.errors import AutomlError, DataError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".npy", ".idx", ".ubyte", ".gz")
_IDX_MAGIC = (b"\x00\x00\x08\x03", b"\x00\x00\x08\x01", b"\x00\x00\x08\x02")  # uint8 IDX files, 1 to 3 dimensions


@dataclass
class LoadedModel:
    """A final model with what it needs to read new input and name its outputs."""

    family: str
    model: Any
    data_kind: str  # "table" or "images"
    labels: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def task(self) -> str:
        return str(self.labels.get("task") or "classification")

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in self.labels.get("class_names") or []]

    @property
    def output_name(self) -> str:
        return str(self.labels.get("target") or "prediction")

    def predict(self, x: Any) -> pd.DataFrame:
        """One row per input: the prediction in the original labels (a class name, or the regression value)."""
        import pandas as pd

        if self.task == "regression":
            values = self._regress(self._inputs(x))
            return pd.DataFrame({self.output_name: values})
        proba = self._proba(self._inputs(x))
        return pd.DataFrame({self.output_name: self._name(np.argmax(proba, axis=1))})

    def predict_proba(self, x: Any) -> pd.DataFrame:
        """The prediction and one column of probability per class (named by the class)."""
        import pandas as pd

        if self.task == "regression":
            raise AutomlError(f"{self.source}: a regression model gives values, not class probabilities; drop --proba")
        proba = self._proba(self._inputs(x))
        columns = self.class_names or [str(i) for i in range(proba.shape[1])]
        if len(columns) != proba.shape[1]:
            columns = [str(i) for i in range(proba.shape[1])]
        frame = pd.DataFrame(proba, columns=columns)
        frame.insert(0, self.output_name, self._name(np.argmax(proba, axis=1)))
        return frame

    # ----------------------------------------------------------------------------------------------------------

    def _name(self, index: np.ndarray) -> list[Any]:
        names = self.class_names
        if not names:
            return [int(i) for i in index]
        return [names[int(i)] if int(i) < len(names) else int(i) for i in index]

    def _inputs(self, x: Any) -> Any:
        if self.data_kind == "table":
            labels = self.labels
            # Recorded before the feature columns were kept: a scikit-learn pipeline still knows them.
            if "features" not in labels and hasattr(self.model, "feature_names_in_"):
                labels = {**labels, "features": [str(c) for c in self.model.feature_names_in_]}
                labels["ignored_columns"] = [c for c in (labels.get("target"),) if c]
            return table_inputs(x, labels, self.source)
        return image_inputs(x, self.labels, self.source)

    def _keras_input(self, x: Any) -> np.ndarray:
        return np.asarray(x.to_numpy(dtype=np.float32) if hasattr(x, "columns") else x, dtype=np.float32)

    def _library(self) -> str:
        return type(self.model).__module__.split(".")[0]  # "sklearn" or "keras": who made the saved model

    def _proba(self, x: Any) -> np.ndarray:
        if self._library() == "sklearn" and hasattr(self.model, "predict_proba"):
            from automl.analysis.scores import full_proba

            return full_proba(self.model, x, len(self.class_names))  # columns 0..k-1 even if training lacked one
        if self._library() == "keras":  # softmax outputs, one column per class
            return np.asarray(self.model.predict(self._keras_input(x), verbose=0), dtype=np.float64)
        raise AutomlError(f"{self.source}: a {self.family} model cannot predict classes; use a real model family")

    def _regress(self, x: Any) -> np.ndarray:
        if self._library() == "sklearn" and not hasattr(self.model, "predict_proba"):
            return np.asarray(self.model.predict(x), dtype=np.float64).reshape(-1)
        if self._library() == "keras":
            return np.asarray(self.model.predict(self._keras_input(x), verbose=0), dtype=np.float64).reshape(-1)
        raise AutomlError(f"{self.source}: a {self.family} model cannot predict values; use a real model family")


# --------------------------------------------------------------------------------------------------------------
# Input


def table_inputs(x: Any, labels: dict[str, Any], where: str) -> pd.DataFrame:
    """The training features of ``x`` (a DataFrame), prepared as the search prepared them; the target and dropped
    ID columns are ignored; a missing or unknown column is a one-line error naming it."""
    import pandas as pd

    from automl.data.tables import prepare_features

    if not isinstance(x, pd.DataFrame):
        raise DataError(f"{where}: this model predicts from a table (a pandas DataFrame or a CSV/Parquet file)")
    frame = x.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    features = labels.get("features")
    if features is None:  # recorded before feature names were kept: trust the caller's columns
        return prepare_features(frame)
    ignored = set(labels.get("ignored_columns") or [])
    missing = [c for c in features if c not in frame.columns]
    extra = [c for c in frame.columns if c not in features and c not in ignored]
    if missing or extra:
        parts = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + (
            [f"unknown column(s) {', '.join(extra)}"] if extra else []
        )
        raise DataError(
            f"{where}: {'; '.join(parts)}; give the columns the model was trained on: {', '.join(features)}"
        )
    return prepare_features(frame[features])


def image_inputs(x: Any, labels: dict[str, Any], where: str) -> np.ndarray:
    """Images as the search saw them: flattened, pixels scaled to [0, 1]; the size must match the training's."""
    if hasattr(x, "columns"):
        raise DataError(f"{where}: this model predicts from images (an IDX or NPY file, or an array), not a table")
    images = np.asarray(x)
    if images.ndim < 2 or not np.issubdtype(images.dtype, np.number):
        raise DataError(f"{where}: expected an array of images (N x H x W or N x pixels), got shape {images.shape}")
    flat = images.reshape(len(images), -1).astype(np.float32)
    flat = flat / 255.0 if flat.size and flat.max() > 1.0 else flat
    expected = labels.get("input_dim")
    if expected and flat.shape[1] != int(expected):
        raise DataError(
            f"{where}: images of {flat.shape[1]} pixels, the model was trained on {expected}; give images of that size"
        )
    return flat


def read_input(path_text: str | Path, data_kind: str) -> Any:
    """A prediction file: a CSV/Parquet table, or an NPY or IDX file of images."""
    from automl.data.tables import read_table

    path = Path(path_text).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file; give a CSV/Parquet table or an NPY/IDX file of images")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if path.suffix.lower() == ".npy" or magic == b"\x93NUM":
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DataError(f"{path}: not a readable NPY file ({exc}); save the images with numpy.save") from None
    if magic in _IDX_MAGIC or path.name.endswith(("-ubyte", "-ubyte.gz", ".idx")):
        from automl.data.images import read_idx

        return read_idx(path)
    if data_kind == "images":
        raise DataError(f"{path}: not an NPY or IDX file of images; this model predicts from images")
    return read_table(path)


# --------------------------------------------------------------------------------------------------------------
# Loading


def load_model(source: str | Path, storage: str | None = None) -> LoadedModel:
    """The final model of study ``source`` (in ``storage``), or of the folder ``automl export`` wrote."""
    path = Path(source).expanduser()
    if path.is_dir():
        return _from_directory(path)
    return _from_study(str(source), storage)


def _from_directory(folder: Path) -> LoadedModel:
    import yaml

    from automl.models import get_family

    config_path = folder / "config.yaml"
    if not config_path.is_file():
        raise AutomlError(f"{folder}: no config.yaml; give a folder written by `automl export`, or a study name")
    try:
        document = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise AutomlError(
            f"{config_path}: not valid YAML ({str(exc).splitlines()[0]}); export the study again"
        ) from None
    family = str(document.get("family") or document.get("model") or "")
    model_file = folder / str(document.get("model") or "")
    if not family or not model_file.is_file():
        raise AutomlError(f"{folder}: config.yaml names no model file there; export the study again")
    data = document.get("data") or {}
    labels = dict(document.get("labels") or {})
    labels.setdefault("task", data.get("task") or "classification")
    loaded = LoadedModel(
        family, get_family(family).load(model_file), str(data.get("kind") or "images"), labels, str(folder)
    )
    _warn_without_names(loaded)
    return loaded


def _from_study(name: str, storage: str | None) -> LoadedModel:
    from automl.models import get_family
    from automl.reports.export import family_name
    from automl.reports.load import load_study
    from automl.study.record import StudyKey
    from automl.study.study_record import read_study

    study = load_study(name, storage)
    record = read_study(study)
    final = record.final
    if final is None or not final.model_path or not Path(final.model_path).is_file():
        raise AutomlError(
            f"study {name!r}: has no final model (the search did not reach its final stage, or its file was "
            f"moved); run `automl export {name} --out DIR` and predict from DIR"
        )
    family = family_name(record, final.config)
    labels = dict(study.user_attrs.get(StudyKey.LABELS) or {})
    labels.setdefault("task", record.task)
    model = get_family(family).load(Path(final.model_path))
    loaded = LoadedModel(family, model, record.data_kind, labels, f"study {name!r}")
    _warn_without_names(loaded)
    return loaded


def _warn_without_names(loaded: LoadedModel) -> None:
    if loaded.task == "classification" and loaded.data_kind == "table" and not loaded.class_names:
        log.warning(
            "%s: recorded before class names were kept; predictions are class indices 0..k-1 (the sorted order "
            "of the original labels)",
            loaded.source,
        )
