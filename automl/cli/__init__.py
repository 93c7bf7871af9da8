"""The ``automl`` command line: a thin layer over the Python API.

Each subcommand lives in its own module exposing ``register(subparsers)``; the module's handler receives the
parsed arguments and returns an exit code. A user's mistake (:class:`AutomlError`) is printed as one line and
exits 2; Ctrl-C or SIGTERM exit 130 after the running trial has been recorded.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from automl import __version__, interrupts
from automl.errors import AutomlError
from automl.spaces.defaults import DEFAULT_SPACES
from automl.validation import ArgumentError

# Subcommand modules, in the order `automl --help` lists them.
COMMAND_MODULES = (
    "search",
    "spaces",
    "dashboard",
    "report",
    "export",
    "predict",
    "worker",
    "studies",
    "sweep",
    "scheduler",
)


EXAMPLES = f"""\
examples:
  automl search mnist                      search MNIST's default space ({DEFAULT_SPACES["mnist"]}), test and report
  automl search mnist --trials 10 --limit 1000
                                           a quick look on a small sample
  automl dashboard                         watch the studies live in optuna-dashboard
  automl report STUDY                      best configurations, diagnoses, honest test score

Studies live in $AUTOML_STORAGE, else in ~/.automl/studies.db (SQLite; $AUTOML_HOME moves it);
pass --storage URL for another place, e.g. postgresql://user@host/db.
Run 'automl COMMAND --help' for a command's options.
"""

# What to type for the options several commands share (see _name_metavars).
METAVARS = {
    "storage": "URL",
    "space": "NAME|PATH",
    "study": "NAME",
    "trials": "N",
    "timeout": "SECONDS",
    "time_budget": "SECONDS",
    "seed": "N",
    "limit": "N",
    "top": "K",
    "seeds": "K",
    "threads": "N",
    "workers": "N",
    "data_dir": "DIR",
    "reports": "DIR",
    "out": "DIR",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own usage errors also exit 2, on one line plus usage
        self.print_usage(sys.stderr)
        self.exit(2, f"automl: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="automl",
        description="Hyperparameter search for Keras networks on Optuna, with honest reports: which\n"
        "configurations won, whether they overfit, and a test score you can trust.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"automl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail (Optuna's own messages too)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"automl.cli.{name}_cmd").register(subparsers)
    _polish_help(parser)
    return parser


def _polish_help(parser: argparse.ArgumentParser) -> None:
    """Give options a metavar that says what to type (``--storage URL``, not ``--storage STORAGE``), the same in
    every command, and write positionals in capitals (``automl report STUDY``). A command without a description
    shows its one-line summary at the top of its --help. What a command sets itself wins."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                summary = summaries.get(name)
                if sub.description is None and summary:
                    sub.description = f"{summary[0].upper()}{summary[1:]}."
                _polish_help(sub)
        elif action.metavar is None and action.nargs != 0:
            if action.option_strings:
                action.metavar = METAVARS.get(action.dest)
            else:
                action.metavar = action.dest.upper()


class _CurrentStderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at emit time, not the one current at setup.

    `main()` runs many times in one process (tests, notebooks); a handler bound to a stderr that was later
    swapped and closed would print "Logging error" tracebacks instead of our messages.
    """

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always follow sys.stderr


def configure_logging(verbose: bool) -> None:
    handler = _CurrentStderrHandler()
    logging.basicConfig(level=logging.INFO, format="[automl] %(message)s", handlers=[handler], force=True)
    import optuna

    # Optuna logs every trial and prints tracebacks for caught failures; our progress display says it better.
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.ERROR)
    for noisy in ("absl", "tensorflow", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    configure_logging(args.verbose)
    # SIGTERM (a scheduler stopping us) takes the same clean path as Ctrl-C; both are remembered, so one that a
    # library's callback swallows still stops the search at the next epoch end (see automl.interrupts).
    interrupts.clear()
    previous = {sig: signal.signal(sig, interrupts.handle_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return int(args.handler(args) or 0)
    except ArgumentError as exc:  # named as a flag here, as a Python argument in the API
        print(f"automl: error: {exc.for_cli()}", file=sys.stderr)
        return 2
    except AutomlError as exc:
        print(f"automl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("automl: interrupted; completed trials are kept in the study", file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
