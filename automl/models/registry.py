"""Where a space's ``model:`` finds its family: a name from :data:`FAMILIES`, or ``package.module:Name``.

Families are imported on first use, so naming one never loads another's library (TensorFlow, scikit-learn).
Adding a family is one module and one line here.
"""

from __future__ import annotations

import importlib
import re
from functools import cache

from automl.errors import SpaceError
from automl.models.base import ModelFamily

FAMILIES: dict[str, str] = {
    "keras_mlp": "automl.models.keras_mlp:KerasMLP",
    "keras_cnn": "automl.models.keras_cnn:KerasCNN",
    "synthetic": "automl.models.synthetic:Synthetic",
    "sklearn_hgb": "automl.models.sklearn_hgb:HistGradientBoosting",
    "sklearn_forest": "automl.models.sklearn_forest:RandomForest",
    "sklearn_svm": "automl.models.sklearn_svm:SupportVectorMachine",
    "sklearn_linear": "automl.models.sklearn_linear:Linear",
    "sklearn_mlp": "automl.models.sklearn_mlp:MultilayerPerceptron",
    "sklearn_dummy": "automl.models.sklearn_dummy:Dummy",
}

_USER_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def is_family_reference(name: str) -> bool:
    """True for a registered name or a ``module:Name`` reference (which may still fail to import)."""
    return name in FAMILIES or bool(_USER_REF.match(name))


@cache
def get_family(name: str) -> ModelFamily:
    """The family instance for ``name``; a one-line :class:`SpaceError` when it cannot be found."""
    reference = FAMILIES.get(name, name)
    if not _USER_REF.match(reference):
        raise SpaceError(
            f"model {name!r}: unknown model family; use one of {sorted(FAMILIES)} or 'package.module:ClassName'"
        )
    module_name, class_name = reference.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpaceError(
            f"model {name!r}: cannot import module {module_name!r} ({exc}); install it or put it on PYTHONPATH"
        ) from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, ModelFamily)):
        raise SpaceError(
            f"model {name!r}: {reference} is not a ModelFamily subclass; define "
            f"'class {class_name}(automl.models.ModelFamily)' in {module_name}"
        )
    family = cls()
    if not getattr(cls, "name", None):
        cls.name = name
    return family
