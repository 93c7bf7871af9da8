"""The search-space file's structure as pydantic models: its top keys, the ``search:`` settings and each parameter
kind, every rule written as data (types, bounds, allowed values) with its wording in the field's ``description``.
:mod:`automl.yaml_file` turns a failure into the one-line error; what needs the other parameters (``when:``
conditions, warm-start configurations) or the family registry is checked after, in :mod:`automl.spaces.parsing`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from automl.spaces.model import BACKENDS, CONDITION_OPERATORS, DIRECTIONS, PRUNERS, SAMPLERS
from automl.yaml_file import RULE

FiniteFloat = Annotated[StrictFloat, AllowInfNan(False)]
Number = StrictInt | FiniteFloat  # an int stays an int: the space's fingerprint is its JSON
Choice = StrictStr | StrictInt | StrictBool | StrictFloat | None

_SECONDS = "must be a number of seconds > 0 (or null)"
_WHEN = f"must read 'PARAM OP VALUE' with OP one of {list(CONDITION_OPERATORS)}"


class _Strict(BaseModel):
    # Strict: YAML already gives typed values, so "3" is not 3 and true is not 1, as the hand-written checks had it.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SettingsFile(_Strict):
    """``search:``: objective, algorithm and budget."""

    model_config = ConfigDict(title="search mapping")

    metric: StrictStr = Field(
        default="val_accuracy",
        pattern=r"^val_[a-z][a-z0-9_]*$",
        # Which validation metrics exist depends on the family and task; the family check names them.
        description="must name a validation metric such as val_accuracy or val_loss",
    )
    # The choices are the space language's tuples (one definition): mypy cannot read a Literal built from a
    # tuple, pydantic can, hence the valid-type ignores on these four lines.
    direction: Literal[DIRECTIONS] = Field(default="maximize", description=f"must be one of {list(DIRECTIONS)}")  # type: ignore[valid-type]
    sampler: Literal[SAMPLERS] = Field(default="tpe", description=f"must be one of {list(SAMPLERS)}")  # type: ignore[valid-type]
    pruner: Literal[PRUNERS] = Field(default="median", description=f"must be one of {list(PRUNERS)}")  # type: ignore[valid-type]
    trials: StrictInt | None = Field(default=50, ge=1, description="must be an integer >= 1 (or null for no limit)")
    timeout: Number | None = Field(default=None, gt=0, description=_SECONDS)
    time_budget: Number | None = Field(default=None, gt=0, description=_SECONDS)
    max_trial_seconds: Number | None = Field(default=None, gt=0, description=_SECONDS)
    patience: StrictInt = Field(default=4, ge=1, description="must be an integer >= 1")
    warm_start: list[dict[Any, Any]] = Field(
        default_factory=list, description="must be a list of mappings from parameter to value"
    )
    backend: Literal[BACKENDS] = Field(default="optuna", description=f"must be one of {list(BACKENDS)}")  # type: ignore[valid-type]
    min_epochs: StrictInt = Field(default=2, ge=1, description="must be an integer >= 1")
    reduction_factor: StrictInt = Field(default=3, ge=2, description="must be an integer >= 2")
    keep_models: StrictInt = Field(default=3, ge=0, description="must be an integer >= 0")
    retrain_members: StrictInt = Field(default=0, ge=0, description="must be an integer >= 0")
    # Where MLflow is told of each trial and the final model (automl.tracking); whether the package is installed
    # and the store opens is checked when a search starts, before its first trial.
    mlflow: StrictStr | None = Field(
        default=None,
        min_length=1,
        description="must be an MLflow tracking URI such as sqlite:///mlflow.db or file:./mlruns (or null)",
    )

    # Several objectives, bounds and the pick rule (automl.spaces.objectives reads each string; parsing names
    # the item that does not read).
    objectives: list[StrictStr] = Field(
        default_factory=list, description="must be a list of 'METRIC DIRECTION' strings, the primary one first"
    )
    constraints: list[StrictStr] = Field(
        default_factory=list, description="must be a list of 'METRIC <= NUMBER' or 'METRIC >= NUMBER' strings"
    )
    pick: StrictStr | None = Field(
        default=None, description="must read 'best METRIC', 'smallest within N points' or 'fastest within N points'"
    )

    @field_validator("warm_start", "objectives", "constraints", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return value or []


class _Param(_Strict):
    when: StrictStr | None = Field(default=None, description=_WHEN)


class _RangeParam(_Param):
    log: StrictBool = Field(default=False, description="must be true or false")

    @model_validator(mode="after")
    def _range(self) -> _RangeParam:
        # The subclasses declare type, low, high and step, each with its own types; read them by name here.
        kind, low, high, step = (getattr(self, key) for key in ("type", "low", "high", "step"))
        if low > high or (kind == "float" and low == high):
            relation = "<" if kind == "float" else "<="
            raise PydanticCustomError(RULE, f"low must be {relation} high, got low={low} high={high}")
        if self.log and low <= 0:
            raise PydanticCustomError(RULE, f"log scale needs low > 0, got low={low}")
        if self.log and step is not None and (kind == "float" or step != 1):
            raise PydanticCustomError(RULE, "log and step cannot be combined (Optuna's rule); drop one of them")
        return self


class FloatParam(_RangeParam, title="float parameter"):
    type: Literal["float"]
    low: Number = Field(description="must be a number")
    high: Number = Field(description="must be a number")
    step: Number | None = Field(default=None, gt=0, description="must be a positive number")


class IntParam(_RangeParam, title="int parameter"):
    type: Literal["int"]
    low: StrictInt = Field(description="must be an integer")
    high: StrictInt = Field(description="must be an integer")
    step: StrictInt | None = Field(default=None, gt=0, description="must be a positive integer")


class CategoricalParam(_Param, title="categorical parameter"):
    type: Literal["categorical"]
    choices: list[Choice] = Field(
        min_length=1, description="must be a non-empty list; choices must be strings, numbers, booleans or null"
    )


class FixedParam(_Param, title="fixed parameter"):
    type: Literal["fixed"]
    value: Any


ParamFile = Annotated[FloatParam | IntParam | CategoricalParam | FixedParam, Field(discriminator="type")]


class SpaceFile(_Strict):
    """A search-space file's top level."""

    model_config = ConfigDict(title="search space")

    name: StrictStr = Field(min_length=1, description="must be a non-empty string")
    description: Any = ""
    model: Any = "keras_mlp"  # checked against the family registry in parsing (families are found at run time)
    search: SettingsFile = Field(default_factory=SettingsFile, description="must be a mapping")
    params: dict[Any, ParamFile] = Field(
        min_length=1,
        description="must be a non-empty mapping of parameter name to definition",
        json_schema_extra={"item": "must be a mapping with a 'type' key"},
    )

    @field_validator("search", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return value or {}


class SettingsOnly(_Strict):
    """A ``search:`` mapping on its own (the settings a study recorded), so its errors still read ``search.KEY``."""

    search: SettingsFile = Field(description="must be a mapping")
