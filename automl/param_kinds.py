"""The kinds of hyperparameter, named once for both sides that speak of them: a space file's ``type:`` and a model
family's declared :class:`~automl.models.HyperParam`.

It sits at the top of the package, outside :mod:`automl.spaces` and :mod:`automl.models`, because both import it
(and :mod:`automl.spaces.checks` imports the models), and because ``import automl`` loads the spaces but must not
load the models (and numpy) with them.
"""

from __future__ import annotations

from enum import StrEnum


class ParamKind(StrEnum):
    """What values a hyperparameter takes. Members compare equal to their YAML spelling (``"float"``...)."""

    FLOAT = "float"
    INT = "int"
    CATEGORICAL = "categorical"
    BOOL = "bool"  # a family's true/false parameter; a space samples it as a categorical of true and false
    FIXED = "fixed"  # a space's constant; a family never declares one


# The kinds each side accepts, as plain strings so that messages listing them read as before.
SPACE_KINDS: tuple[str, ...] = tuple(
    k.value for k in (ParamKind.FLOAT, ParamKind.INT, ParamKind.CATEGORICAL, ParamKind.FIXED)
)
FAMILY_KINDS: tuple[str, ...] = tuple(
    k.value for k in (ParamKind.INT, ParamKind.FLOAT, ParamKind.CATEGORICAL, ParamKind.BOOL)
)
