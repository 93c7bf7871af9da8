"""Tables: the user's own CSV or Parquet file, and the small datasets bundled with scikit-learn, as seeded splits.

A table stays a pandas DataFrame of raw columns (numbers, categories, booleans as 0/1, missing values kept): the
model family fits its preprocessing on the rows it trains on, never on validation or test rows. Loading a file:

- headers are stripped of whitespace; rows with every value missing are dropped;
- ID-like columns (every value distinct, integers or strings, not the target) are dropped, with a message;
- the task is inferred from the target (strings, booleans, or integers with at most 20 distinct values:
  classification; other numbers: regression) unless ``task`` says otherwise;
- one line says what was inferred: task, classes, features by kind, columns and rows dropped.

Bad files are one-line :class:`DataError` messages: a missing target column (the columns are listed), an empty
file, a file that isn't a table, a target with missing values (how many), a single-class target.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.data.dataset import CV_FOLDS, SMALL_TABLE_ROWS, Dataset
from automl.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
MAX_CLASSES_FOR_INTEGERS = 20  # an integer target with at most this many distinct values is a set of classes
MIN_ROWS = 20  # fewer cannot give train, validation and test rows
TASKS = ("classification", "regression")

# name -> (scikit-learn loader function, task); loaded with as_frame=True
BUNDLED = {
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast_cancer": ("load_breast_cancer", "classification"),
    "digits": ("load_digits", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}


def is_table_file(name: str) -> bool:
    """A dataset argument that names a table file (by suffix, or an existing file) rather than a dataset."""
    return Path(name).suffix.lower() in TABLE_SUFFIXES or Path(name).is_file()


# --------------------------------------------------------------------------------------------------------------
# Reading


def read_table(path: Path) -> pd.DataFrame:
    """The file as a DataFrame: Parquet by suffix (or magic bytes), else CSV with the delimiter sniffed."""
    import pandas as pd

    if not path.is_file():
        raise DataError(f"{path}: no such file; give the path of a CSV or Parquet table")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; give a table with a header row and data rows")
    with path.open("rb") as handle:
        magic = handle.read(4)
    try:
        if magic == b"PAR1" or path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep=None, engine="python", skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; give a table with a header row and data rows") from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, OSError) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise DataError(
            f"{path}: not a table ({reason}); give a CSV file with a header row, or a Parquet file"
        ) from None
    if frame.shape[1] < 2 and magic != b"PAR1":
        raise DataError(
            f"{path}: not a table (found {frame.shape[1]} column); give a CSV with a header row and at least a "
            "feature column and a target column"
        )
    if frame.empty:
        raise DataError(f"{path}: the table has a header but no rows; add data rows")
    return frame


# --------------------------------------------------------------------------------------------------------------
# Understanding the columns (pure)


def _is_boolean(column: pd.Series) -> bool:
    import pandas as pd

    if pd.api.types.is_bool_dtype(column):
        return True
    values = column.dropna()
    if values.empty or pd.api.types.is_numeric_dtype(values):
        return False
    return set(values.astype(str).str.strip().str.lower()) <= {"true", "false"}


def _as_boolean(column: pd.Series) -> pd.Series:
    """0/1 floats with NaN for missing values: a boolean feature then flows through the numeric preprocessing."""
    mapped = column.map(lambda v: v if not isinstance(v, str) else v.strip().lower() == "true")
    return mapped.astype("float64")


def _whole_numbers(column: pd.Series) -> bool:
    import pandas as pd

    if pd.api.types.is_integer_dtype(column):
        return True
    if pd.api.types.is_float_dtype(column):
        values = column.dropna().to_numpy()
        return bool(len(values)) and bool(np.all(np.mod(values, 1) == 0))
    return False


def infer_task(target: pd.Series) -> str:
    """Strings or booleans, or integers with at most 20 distinct values: classification; other numbers: regression."""
    import pandas as pd

    if _is_boolean(target) or not pd.api.types.is_numeric_dtype(target):
        return "classification"
    if _whole_numbers(target) and target.nunique() <= MAX_CLASSES_FOR_INTEGERS:
        return "classification"
    return "regression"


def id_like_columns(frame: pd.DataFrame, target: str) -> list[str]:
    """Columns whose values are all distinct integers or strings (row identifiers carry no signal, only noise)."""
    import pandas as pd

    out = []
    for name in frame.columns:
        column = frame[name]
        if name == target or column.isna().any() or _is_boolean(column):
            continue
        textual = not pd.api.types.is_numeric_dtype(column)
        if (textual or _whole_numbers(column)) and column.nunique() == len(column):
            out.append(name)
    return out


def feature_kinds(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Feature names by kind, as the families' preprocessing will see them (booleans already 0/1)."""
    import pandas as pd

    kinds: dict[str, list[str]] = {"numeric": [], "categorical": [], "boolean": []}
    for name in frame.columns:
        column = frame[name]
        if _is_boolean(column):
            kinds["boolean"].append(name)
        elif pd.api.types.is_numeric_dtype(column):
            kinds["numeric"].append(name)
        else:
            kinds["categorical"].append(name)
    return kinds


def prepare_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Booleans as 0/1 floats, other non-numeric columns as plain objects (strings) with NaN for missing."""
    import pandas as pd

    out = {}
    for name in frame.columns:
        column = frame[name]
        if _is_boolean(column):
            out[name] = _as_boolean(column)
        elif pd.api.types.is_numeric_dtype(column):
            out[name] = column.astype("float64")
        else:
            out[name] = column.map(lambda v: v if pd.isna(v) else str(v)).astype(object)
    return pd.DataFrame(out, index=frame.index)


def encode_target(target: pd.Series, task: str, where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Classification: labels 0..k-1 in sorted order of the values (names kept); regression: floats."""
    import pandas as pd

    if task == "regression":
        if _is_boolean(target) or not pd.api.types.is_numeric_dtype(target):
            raise DataError(
                f"{where}: target {target.name!r} is not numeric, so it cannot be regressed; "
                "use --task classification, or pick a numeric target"
            )
        return target.to_numpy(dtype=np.float64), ()
    values = target.map(lambda v: str(v).strip() if isinstance(v, str) else v)
    classes = sorted(values.unique(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise DataError(
            f"{where}: target {target.name!r} has a single class ({classes[0]!r}); a classifier needs at least "
            "two; pick another target, or add rows of the other classes"
        )
    index = {value: i for i, value in enumerate(classes)}
    return values.map(index).to_numpy(dtype=np.int64), tuple(_label(c) for c in classes)


def _label(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


# --------------------------------------------------------------------------------------------------------------
# Splitting


def split_table(
    features: pd.DataFrame,
    y: np.ndarray,
    *,
    name: str,
    source: str,
    task: str,
    class_names: tuple[str, ...],
    seed: int,
    limit: int | None,
    options: dict[str, Any],
    dropped_columns: tuple[str, ...] = (),
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> Dataset:
    """Seeded splits (stratified for classification when every class allows it); k-fold for small tables."""
    from sklearn.model_selection import train_test_split

    features = features.reset_index(drop=True)

    def cut(x: Any, labels: np.ndarray, **kwargs: Any) -> list[Any]:
        counts = np.bincount(labels) if task == "classification" else np.array([])
        stratify = labels if counts.size and counts[counts > 0].min() >= 2 else None
        parts: list[Any]
        try:
            parts = train_test_split(x, labels, stratify=stratify, random_state=seed, **kwargs)
        except ValueError:  # a class too rare to stratify: a plain shuffled split still keeps the test rows apart
            parts = train_test_split(x, labels, random_state=seed, **kwargs)
        return parts

    if limit is not None and limit < len(y):
        features, _, y, _ = cut(features, y, train_size=limit)
    x, x_test, y_rest, y_test = cut(features, y, test_size=test_fraction)
    x_train, x_val, y_train, y_val = cut(x, y_rest, test_size=val_fraction)
    small = len(y) < SMALL_TABLE_ROWS
    return Dataset(
        name,
        source,
        x_train.reset_index(drop=True),
        y_train,
        x_val.reset_index(drop=True),
        y_val,
        x_test.reset_index(drop=True),
        y_test,
        n_classes=len(class_names) if task == "classification" else 0,
        kind="table",
        task=task,
        cv_folds=CV_FOLDS if small else 0,
        class_names=class_names,
        options=options,
        dropped_columns=dropped_columns,
    )


def describe(data: Dataset, kinds: dict[str, list[str]], dropped_columns: list[str], dropped_rows: int) -> str:
    """The one line that says what was inferred from a table."""
    if data.task == "classification":
        counts = np.bincount(np.concatenate([data.y_train, data.y_val, data.y_test]), minlength=data.n_classes)
        shown = ", ".join(f"{n}={c}" for n, c in zip(data.class_names[:6], counts[:6], strict=False))
        more = f", ... ({data.n_classes} in all)" if data.n_classes > 6 else ""
        what = f"classification of {data.n_classes} classes ({shown}{more})"
    else:
        what = "regression"
    features = ", ".join(f"{len(v)} {k}" for k, v in kinds.items() if v) or "no"
    line = f"{data.name}: {what}; features: {features}"
    if dropped_columns:
        line += f"; dropped ID-like column(s) {', '.join(dropped_columns)} (every value distinct)"
    line += f"; {dropped_rows} empty row(s) dropped; splits {data.sizes()}"
    if data.cv_folds > 1:
        line += (
            f"; a small table ({sum(data.sizes().values())} rows): each configuration is scored by "
            f"{data.cv_folds}-fold cross-validation on train+validation, the test split stays untouched"
        )
    return line


# --------------------------------------------------------------------------------------------------------------
# Loading


def load_table_file(
    path_text: str,
    *,
    target: str | None,
    task: str | None,
    seed: int,
    limit: int | None,
) -> Dataset:
    """The user's CSV or Parquet table, split for a search; see the module docstring."""
    path = Path(path_text).expanduser().resolve()
    where = str(path_text)
    if not target:
        raise DataError(f"{where}: a table needs its target column; pass --target COLUMN (API: target=...)")
    if task is not None and task not in TASKS:
        raise DataError(f"task: must be one of {', '.join(TASKS)}, got {task!r}")
    frame = read_table(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    target = target.strip()
    if target not in frame.columns:
        raise DataError(
            f"{where}: no column {target!r}; its columns are {', '.join(frame.columns)}; pass one with --target"
        )
    before = len(frame)
    frame = frame.dropna(how="all")
    dropped_rows = before - len(frame)
    missing = int(frame[target].isna().sum())
    if missing:
        raise DataError(
            f"{where}: target {target!r} has {missing} missing value(s) of {len(frame)}; fill them or drop those "
            "rows, then retry"
        )
    if len(frame) < MIN_ROWS:
        raise DataError(f"{where}: {len(frame)} rows; a search needs at least {MIN_ROWS} to split; add rows")
    chosen = task or infer_task(frame[target])
    y, class_names = encode_target(frame[target], chosen, where)
    id_columns = id_like_columns(frame, target)
    features = frame.drop(columns=[target, *id_columns])
    if features.shape[1] == 0:
        raise DataError(f"{where}: no feature columns left besides {target!r}; add feature columns")
    kinds = feature_kinds(features)
    options = {"target": target, "task": task}
    data = split_table(
        prepare_features(features),
        y,
        name=str(path),
        source=f"file:{path}",
        task=chosen,
        class_names=class_names,
        seed=seed,
        limit=limit,
        options=options,
        dropped_columns=tuple(id_columns),
    )
    log.info("data: %s", describe(data, kinds, id_columns, dropped_rows))
    return data


def load_bundled(name: str, *, task: str | None, seed: int, limit: int | None) -> Dataset:
    """One of scikit-learn's bundled datasets (no download), split like a user's table."""
    import sklearn.datasets

    loader, native = BUNDLED[name]
    if task is not None and task != native:
        raise DataError(f"{name}: is a {native} dataset; drop --task, or use --task {native}")
    bunch = getattr(sklearn.datasets, loader)(as_frame=True)
    features = bunch.data.copy()
    features.columns = [str(c).strip() for c in features.columns]
    if native == "classification":
        y = bunch.target.to_numpy(dtype=np.int64)
        names = tuple(str(n) for n in getattr(bunch, "target_names", range(int(y.max()) + 1)))
    else:
        y, names = bunch.target.to_numpy(dtype=np.float64), ()
    data = split_table(
        prepare_features(features),
        y,
        name=name,
        source=f"sklearn:{loader}",
        task=native,
        class_names=names,
        seed=seed,
        limit=limit,
        options={},
    )
    log.info("data: %s", describe(data, feature_kinds(features), [], 0))
    return data
