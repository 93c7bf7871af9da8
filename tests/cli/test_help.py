"""`automl --help`, every command's --help and `automl --version`, through the installed console script.

"Reads well" is checked where it can fail: every command and argument explains itself, the same option is
shown the same way in every command (``--storage URL`` everywhere), and the top-level help fits 100 columns.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
from collections.abc import Iterator

import pytest

import automl
from automl.cli import COMMAND_MODULES, build_parser


def command_parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    """(command words, parser, one-line help shown in the parent's list) for every (sub)command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*path, name), sub, summaries.get(name)
                yield from command_parsers(sub, (*path, name))


COMMANDS = {path: (parser, summary) for path, parser, summary in command_parsers(build_parser())}


def run(exe: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, env=env)


def test_top_level_help_lists_every_command(automl_exe: str) -> None:
    done = run(automl_exe, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("usage: automl ")
    for name in COMMAND_MODULES:
        line = next((ln for ln in done.stdout.splitlines() if ln.split()[:1] == [name]), None)
        assert line is not None, f"{name!r} is not listed with a summary:\n{done.stdout}"
        assert len(line.split()) > 1, f"{name!r} is not listed with a summary:\n{done.stdout}"
    assert "examples:" in done.stdout
    assert "automl search mnist" in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 100


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_command_help_exits_0_and_explains_every_argument(automl_exe: str, path: tuple[str, ...]) -> None:
    parser, summary = COMMANDS[path]
    assert summary, f"`automl {' '.join(path)}` has no one-line help in its parent's command list"
    done = run(automl_exe, *path, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith(f"usage: automl {' '.join(path)}")
    if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
        # A leaf command says what it does beyond its one-line summary... unless it takes nothing at all.
        takes_args = any(a.dest != "help" for a in parser._actions)
        assert parser.description or not takes_args, f"`automl {' '.join(path)}` has no description"
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue  # a command list: each entry's summary is checked as a command of its own
        name = "/".join(action.option_strings) or action.dest
        assert action.help, f"`automl {' '.join(path)}`: {name} has no help text"
        assert action.help.strip(), f"`automl {' '.join(path)}`: {name} has no help text"


def test_shared_options_read_the_same_in_every_command() -> None:
    seen: dict[str, dict[str, tuple[str, ...]]] = {}
    for path, (parser, _) in COMMANDS.items():
        for action in parser._actions:
            for option in action.option_strings:
                if action.nargs != 0 and option != "--help":
                    seen.setdefault(option, {}).setdefault(str(action.metavar), path)
    differing = {option: metavars for option, metavars in seen.items() if len(metavars) > 1}
    assert not differing, f"the same option is shown differently across commands: {differing}"


def test_version_matches_the_installed_package(automl_exe: str) -> None:
    done = run(automl_exe, "--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"automl {automl.__version__}"
    assert automl.__version__ == importlib.metadata.version("automl")


def test_unknown_command_is_one_error_line_and_exit_2(automl_exe: str) -> None:
    done = run(automl_exe, "serach", "mnist")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1].startswith("automl: error: argument COMMAND: invalid choice: 'serach'")


def test_top_level_help_names_the_space_search_mnist_really_uses(automl_exe: str) -> None:
    from automl.spaces.defaults import DEFAULT_SPACES

    done = run(automl_exe, "--help")
    line = next(ln for ln in done.stdout.splitlines() if ln.strip().startswith("automl search mnist "))
    assert f"({DEFAULT_SPACES['mnist']})" in line
    assert "MLP" not in line
