"""Model families. Each trains from a configuration and reports per epoch; none imports a search engine.

The contract is :class:`ModelFamily` (see :mod:`automl.models.base`); :func:`get_family` resolves a space's
``model:`` through :mod:`automl.models.registry`. A family's ``train`` leaves the per-epoch bookkeeping (history,
best epoch, early stopping) to :class:`EpochTracker` (:mod:`automl.models.tracker`), and
:func:`automl.testing.check_family` checks a family against the contract.
"""

from automl.models.base import (
    BaselineLabel,
    Evaluation,
    HyperParam,
    ModelFamily,
    NullReporter,
    ParamKind,
    Reference,
    Reporter,
    TrialOutcome,
)
from automl.models.registry import FAMILIES, get_family
from automl.models.tracker import EpochTracker

__all__ = [
    "FAMILIES",
    "BaselineLabel",
    "EpochTracker",
    "Evaluation",
    "HyperParam",
    "ModelFamily",
    "NullReporter",
    "ParamKind",
    "Reference",
    "Reporter",
    "TrialOutcome",
    "get_family",
]
