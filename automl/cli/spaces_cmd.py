"""``automl spaces list|show|check``: the available search spaces, and checking one before a search."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("spaces", help="list or show search spaces", description="Inspect search spaces.")
    sub = p.add_subparsers(dest="spaces_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list the spaces in search_spaces/")
    ls.set_defaults(handler=run_list)
    show = sub.add_parser("show", help="show one space as a table")
    show.add_argument("name", help="space name or YAML path")
    show.set_defaults(handler=run_show)
    check = sub.add_parser(
        "check",
        help="validate a space against its model families, without loading data or training",
        description="Validate a space file: its syntax and ranges, then every parameter, range, condition and "
        "warm start against the model families it names. Prints the space as a table; exits 0 if it is "
        "usable, 2 with a one-line reason if not.",
    )
    check.add_argument("file", help="space name or YAML path")
    check.set_defaults(handler=run_check)


def run_list(args: argparse.Namespace) -> int:
    from automl.spaces import list_spaces, load_space, spaces_dir
    from automl.spaces.defaults import DEFAULT_SPACES, DEFAULT_TABLE_SPACES

    defaults: dict[str, list[str]] = {}
    for dataset, space_name in DEFAULT_SPACES.items():
        defaults.setdefault(space_name, []).append(dataset)
    for task, space_name in DEFAULT_TABLE_SPACES.items():
        defaults.setdefault(space_name, []).append(f"{task} tables (CSV/Parquet, scikit-learn datasets)")
    paths = list_spaces()
    if not paths:
        print(f"no spaces in {spaces_dir()}")
    for path in paths:
        space = load_space(str(path))
        default = f"  [default for {', '.join(defaults[path.stem])}]" if path.stem in defaults else ""
        print(f"{path.stem:24s} {len(space.params):3d} params  {space.description}{default}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from automl.spaces import describe, load_space
    from automl.spaces.checks import check_space

    space = load_space(args.file)
    families = check_space(space)
    print(describe(space))
    print(f"\nok: {space.source} is a valid space for {', '.join(families)}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from automl.spaces import describe, load_space

    print(describe(load_space(args.name)))
    return 0
