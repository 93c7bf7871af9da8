"""Search spaces: the declarative YAML format, its parsing, its checks against model families, and the default
space for each kind of data.

- :mod:`~automl.spaces.model`: the data model (``SearchSpace``, ``Param``, ``Condition``, ``SearchSettings``) and
  sampling through any object with Optuna's ``suggest_*`` methods;
- :mod:`~automl.spaces.schema`: the file's structure as pydantic models, each rule written as data;
- :mod:`~automl.spaces.parsing`: reading and validating files, with one-line errors;
- :mod:`~automl.spaces.checks`: what a space asks of its families, checked before any trial;
- :mod:`~automl.spaces.defaults`: which space a dataset gets when none is named.
"""

from automl.spaces.model import Condition, Param, SearchSettings, SearchSpace, Suggester, describe
from automl.spaces.parsing import list_spaces, load_space, parse_settings, parse_space, resolve_space_path, spaces_dir

# The space language's constants (PARAM_TYPES, SAMPLERS, PRUNERS...) are automl.spaces.model's.
__all__ = [
    "Condition",
    "Param",
    "SearchSettings",
    "SearchSpace",
    "Suggester",
    "describe",
    "list_spaces",
    "load_space",
    "parse_settings",
    "parse_space",
    "resolve_space_path",
    "spaces_dir",
]
