"""automl: hyperparameter search for Keras networks on Optuna, with honest reports.

``import automl`` stays light: TensorFlow, Keras and Optuna load only where they are used.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:  # one place for the version: pyproject.toml, as installed
    __version__ = version("automl")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

# TensorFlow's C++ start-up chatter hides our own output; users can still set their own values. oneDNN is off
# because it only prints a notice and makes results depend on the CPU (measured: no speed difference here).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from automl.errors import AutomlError, DataError, SearchAborted, SpaceError, StorageError, TrialFailed  # noqa: E402
from automl.spaces import SearchSpace, load_space, parse_space  # noqa: E402

if TYPE_CHECKING:
    from automl.api import SearchResult, search
    from automl.serve import LoadedModel, load_model

__all__ = [
    "AutomlError",
    "DataError",
    "LoadedModel",
    "SearchAborted",
    "SearchResult",
    "SearchSpace",
    "SpaceError",
    "StorageError",
    "TrialFailed",
    "load_model",
    "load_space",
    "parse_space",
    "search",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # The search API pulls in Optuna; load it on first use rather than on import.
    if name in ("search", "SearchResult"):
        from automl import api

        return getattr(api, name)
    if name in ("load_model", "LoadedModel"):  # loads a model family's library only when called
        from automl import serve

        return getattr(serve, name)
    raise AttributeError(f"module 'automl' has no attribute {name!r}")
