"""Checks of a caller's arguments, worded for that caller: ``trials`` from Python, ``--trials`` on the command line.

Every function raises :class:`ArgumentError`, whose default text names the Python argument; the CLI prints
:meth:`ArgumentError.for_cli` instead, which names the flag.
"""

from __future__ import annotations

import math
from typing import Any

from automl.errors import AutomlError


class ArgumentError(AutomlError):
    """A bad argument: what (its name), the rule, the value given and an example of a good one."""

    def __init__(self, name: str, rule: str, value: Any, example: Any, *, flag: str | None = None) -> None:
        self.name = name
        self.rule = rule
        self.value = value
        self.example = example
        self.flag = flag or "--" + name.replace("_", "-")
        super().__init__(f"{name}: {rule}, got {value!r}; pass e.g. {name}={example!r}")

    def for_cli(self) -> str:
        return f"{self.flag}: {self.rule}, got {self.value!r}; pass e.g. {self.flag} {self.example}"


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole_number(name: str, value: Any, *, minimum: int, example: int, flag: str | None = None) -> int:
    """``value`` as an integer >= ``minimum``."""
    if not _is_whole(value) or value < minimum:
        raise ArgumentError(name, f"must be an integer >= {minimum}", value, example, flag=flag)
    return int(value)


def seconds(name: str, value: Any, *, example: float, flag: str | None = None) -> float:
    """``value`` as a finite number of seconds > 0."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        raise ArgumentError(name, "must be a number of seconds > 0", value, example, flag=flag)
    return float(value)


def optional_whole_number(name: str, value: Any, *, minimum: int, example: int) -> int | None:
    return None if value is None else whole_number(name, value, minimum=minimum, example=example)


def optional_seconds(name: str, value: Any, *, example: float) -> float | None:
    return None if value is None else seconds(name, value, example=example)
