"""The pipeline a search and its workers share: its checks of the environment and of the engine asked for."""

from __future__ import annotations

import pytest

from automl.errors import AutomlError
from automl.job.pipeline import get_backend, threads_from_env


@pytest.mark.parametrize(("value", "threads"), [(None, None), ("", None), ("3", 3), (" 2 ", 2)])
def test_automl_threads_is_read(monkeypatch: pytest.MonkeyPatch, value: str | None, threads: int | None) -> None:
    if value is None:
        monkeypatch.delenv("AUTOML_THREADS", raising=False)
    else:
        monkeypatch.setenv("AUTOML_THREADS", value)
    assert threads_from_env() == threads


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_a_malformed_automl_threads_is_an_error_not_ignored(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AUTOML_THREADS", value)
    with pytest.raises(AutomlError, match=f"AUTOML_THREADS: must be a whole number of threads >= 1, got '{value}'"):
        threads_from_env()


def test_an_unknown_backend_is_named() -> None:
    with pytest.raises(AutomlError, match="backend 'spark': unknown; use one of"):
        get_backend("spark")
    assert get_backend("optuna").name == "optuna"
