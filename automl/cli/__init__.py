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

from automl import __version__
from automl.errors import AutomlError

# Subcommand modules, in the order `automl --help` lists them.
COMMAND_MODULES = ("search", "spaces", "dashboard", "report", "export")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors also exit 2, on one line plus usage
        self.print_usage(sys.stderr)
        self.exit(2, f"automl: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="automl",
        description="Hyperparameter search for Keras networks with honest reports. Start with: automl search mnist",
    )
    parser.add_argument("--version", action="version", version=f"automl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail (Optuna's own messages too)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"automl.cli.{name}_cmd").register(subparsers)
    return parser


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO, format="[automl] %(message)s", stream=sys.stderr, force=True)
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
    # SIGTERM (a scheduler stopping us) takes the same clean path as Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return int(args.handler(args) or 0)
    except AutomlError as exc:
        print(f"automl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("automl: interrupted; completed trials are kept in the study", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
