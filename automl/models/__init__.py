"""Model families. Each trains from a configuration and reports per epoch; none imports a search engine.

The contract is :class:`ModelFamily` (see :mod:`automl.models.base`); :func:`get_family` resolves a space's
``model:`` through :mod:`automl.models.registry`.
"""

from automl.models.base import (
    Evaluation,
    HyperParam,
    ModelFamily,
    NullReporter,
    Reference,
    Reporter,
    TrialOutcome,
)
from automl.models.registry import FAMILIES, get_family

__all__ = [
    "FAMILIES",
    "Evaluation",
    "HyperParam",
    "ModelFamily",
    "NullReporter",
    "Reference",
    "Reporter",
    "TrialOutcome",
    "get_family",
]
