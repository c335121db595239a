"""The `lispstack` command: one entry point, one module per subcommand.

Each module in COMMANDS provides `register(subparsers)`, which adds its
parser and sets `handler` (a function taking the parsed arguments and
returning the exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from lispstack import __version__

COMMANDS = ("run", "show", "lig", "decode", "perf", "lab", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lispstack", description="The Locator/ID Separation Protocol (RFC 9300/9301)."
    )
    parser.add_argument("--version", action="version", version=f"lispstack {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"lispstack.cli.{name}_cmd").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
