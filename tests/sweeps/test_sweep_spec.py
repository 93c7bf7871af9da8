"""Sweep specs are validated like search spaces: one line naming the file, the key path and the rule, exit 2."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import annotated_types
import pytest
import yaml
from sweep_helpers import REPO_ROOT, SYNTHETIC_SPACE, write_spec

from automl.cli import main
from automl.sweeps.spec import SpecFile, SweepSpecError, WarmStartFile, load_spec, load_sweeps, parse_spec


def test_a_full_spec_reads_back(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        "nightly",
        schedule="30 2 * * *",
        timezone="Europe/Berlin",
        warm_start={"top_k": 2},
        catch_up="all",
        catch_up_max=4,
        overlap="queue",
        jitter_seconds=30,
        keep_runs=5,
        trials=6,
        timeout=60,
        time_budget=120,
        backend="optuna",
        workers=1,
        storage="sqlite:///x.db",
        limit=600,
    )
    spec = load_spec(path)
    assert (spec.name, spec.schedule, spec.timezone, spec.top_k) == ("nightly", "30 2 * * *", "Europe/Berlin", 2)
    assert (spec.catch_up, spec.catch_up_max, spec.overlap, spec.jitter_seconds) == ("all", 4, "queue", 30.0)
    assert (spec.keep_runs, spec.trials, spec.timeout, spec.time_budget) == (5, 6, 60.0, 120.0)
    assert spec.space == str(SYNTHETIC_SPACE)


def test_defaults_and_ray_dashboard_from_address(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, "plain", ray_address="10.0.0.5:6379"))
    assert (spec.schedule, spec.timezone, spec.top_k, spec.catch_up, spec.overlap) == (None, "UTC", 3, "none", "skip")
    assert spec.resume is True
    assert load_spec(write_spec(tmp_path, "cold", warm_start=None)).resume is False  # no warm start of any kind
    assert spec.ray_dashboard == "http://10.0.0.5:8265"


def test_a_space_path_is_read_beside_the_spec(tmp_path: Path) -> None:
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "mine.yaml").write_text(SYNTHETIC_SPACE.read_text())
    spec = load_spec(write_spec(tmp_path, "beside", space="spaces/mine.yaml"))
    assert spec.space == str(tmp_path / "spaces" / "mine.yaml")


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"shedule": "0 3 * * *"}, "shedule: unknown key; allowed keys are"),
        ({"schedule": "0 3 * *"}, "schedule: must be a 5-field cron expression"),
        ({"schedule": "61 3 * * *"}, "schedule: bad cron expression '61 3 * * *'"),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
        ({"space": "no_such_space"}, "space: space 'no_such_space': not found"),
        ({"dataset": "no_such_data"}, "dataset: dataset 'no_such_data': unknown"),
        ({"timeout": -5}, "timeout: must be a number of seconds > 0, got -5"),
        ({"time_budget": -1}, "time_budget: must be a number of seconds > 0, got -1"),
        ({"trials": 0}, "trials: must be an integer >= 1, got 0"),
        ({"jitter_seconds": -1}, "jitter_seconds: must be a number of seconds >= 0"),
        ({"catch_up": "some"}, "catch_up: must be one of ['none', 'latest', 'all']"),
        ({"overlap": "maybe"}, "overlap: must be one of ['skip', 'queue', 'allow']"),
        ({"warm_start": [{"units_1": 8}]}, "warm_start: must be a mapping {top_k: N, resume: true|false}"),
        ({"warm_start": {"top_k": -1}}, "warm_start.top_k: must be an integer >= 0"),
        ({"warm_start": {"resume": "yes"}}, "warm_start.resume: must be true or false"),
        ({"backend": "dask"}, "backend: must be one of ['optuna', 'ray']"),
        ({"ray_dashboard": "localhost:8265"}, "ray_dashboard: must be an http://HOST:8265 address"),
        ({"name": "has space"}, "name: must be letters, digits"),
    ],
)
def test_bad_specs_are_one_line_errors_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], keys: dict[str, object], expected: str
) -> None:
    path = write_spec(tmp_path, "bad", **keys)
    with pytest.raises(SweepSpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)
    assert main(["sweep", "run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert expected in err


def test_malformed_yaml_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    assert main(["sweep", "run", str(path)]) == 2
    assert "malformed YAML" in capsys.readouterr().err
    assert main(["sweep", "run", str(tmp_path / "none.yaml")]) == 2
    assert "no such sweep spec file" in capsys.readouterr().err


def test_a_folder_of_specs_leaves_out_a_bad_one_and_says_why(tmp_path: Path) -> None:
    write_spec(tmp_path, "good", schedule="0 3 * * *")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"name": "bad", "dataset": "mnist", "when": 1}))
    errors: list[str] = []
    specs = load_sweeps(tmp_path, on_error=lambda path, exc: errors.append(str(exc)))
    assert [s.name for s in specs] == ["good"]
    assert len(errors) == 1
    assert "when: unknown key" in errors[0]


def test_the_example_spec_is_valid() -> None:
    spec = load_spec(REPO_ROOT / "examples" / "sweeps" / "nightly.yaml")
    assert (spec.schedule, spec.timezone, spec.top_k, spec.keep_runs) == ("30 2 * * *", "Europe/Berlin", 5, 14)


def _past_the_rule(model: type[Any]) -> list[tuple[str, Any]]:
    """For each key of ``model``: a value just past each of its bounds, and one outside its allowed values."""
    out: list[tuple[str, Any]] = []
    for name, info in model.model_fields.items():
        for rule in info.metadata:
            if isinstance(rule, annotated_types.Ge):
                out.append((name, rule.ge - 1))
            elif isinstance(rule, annotated_types.Gt):
                out += [(name, rule.gt), (name, rule.gt - 1)]
        if "Literal[" in str(info.annotation):
            out.append((name, "no-such-choice"))
    return out


BROKEN = _past_the_rule(SpecFile) + [(f"warm_start.{k}", v) for k, v in _past_the_rule(WarmStartFile)]


def test_the_generated_cases_cover_the_bounds_and_choices() -> None:
    keys = {key for key, _ in BROKEN}
    assert {"workers", "trials", "timeout", "time_budget", "catch_up_max", "jitter_seconds", "keep_runs"} <= keys
    assert {"seed", "limit", "warm_start.top_k", "task", "backend", "catch_up", "overlap"} <= keys
    assert typing.get_origin(SpecFile.model_fields["catch_up"].annotation) is typing.Literal


@pytest.mark.parametrize(("key", "bad"), BROKEN, ids=[f"{k}={v!r}" for k, v in BROKEN])
def test_each_broken_key_is_one_line_naming_it(key: str, bad: Any) -> None:
    raw: dict[str, Any] = {"name": "s", "dataset": "mnist"}
    if key.startswith("warm_start."):
        raw["warm_start"] = {key.split(".", 1)[1]: bad}
    else:
        raw[key] = bad
    with pytest.raises(SweepSpecError) as info:
        parse_spec(raw, source="s.yaml", check=False)
    message = str(info.value)
    assert message.startswith(f"s.yaml: {key}: "), message
    assert f"got {bad!r}" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"name: x\x00\n", "holds binary data"),
        ("description: \u00e9t\u00e9\n".encode("latin-1"), "not UTF-8 text"),
        (b"- a\n- b\n", "<top>: must be a mapping of keys such as name, dataset, space, schedule, got list"),
        (b"", "got an empty file"),
    ],
)
def test_a_spec_file_that_is_not_a_yaml_mapping_is_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(content)
    with pytest.raises(SweepSpecError, match=expected) as info:
        load_spec(path)
    assert "\n" not in str(info.value)
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(SweepSpecError, match="is a directory, not a sweep spec file"):
        load_spec(tmp_path / "dir.yaml")
