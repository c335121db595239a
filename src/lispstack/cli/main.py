"""The `lispstack` command: one entry point, one module per subcommand.

Each module in COMMANDS provides `register(subparsers)`, which adds its
parser and sets `handler` (a function taking the parsed arguments and
returning the exit code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from lispstack import __version__

COMMANDS = ("run", "show", "reload", "cleanup", "lig", "rig", "decode", "perf", "lab", "demo")
EXIT_INTERNAL_ERROR = 70
"""EX_SOFTWARE (sysexits.h): lispstack itself failed, not the user's input."""
EXIT_SYSTEM_REFUSED = 2
"""The system refused a socket or file operation: the user's setup, not a bug."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser, or only `command`'s (a command's module may import much:
    the node, the lab; `lispstack show` need not wait for what `lispstack run` needs)."""
    parser = argparse.ArgumentParser(
        prog="lispstack", description="The Locator/ID Separation Protocol (RFC 9300/9301)."
    )
    parser.add_argument("--version", action="version", version=f"lispstack {__version__}")
    subparsers = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="`lispstack COMMAND --help` for one"
    )
    for name in (command,) if command in COMMANDS else COMMANDS:
        importlib.import_module(f"lispstack.cli.{name}_cmd").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    command = next((word for word in words if not word.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as error:
        print(f"lispstack {args.command}: {error.strerror or error}", file=sys.stderr)
        return EXIT_SYSTEM_REFUSED
    except Exception as error:  # a bug: one line for the user, the traceback on request
        if os.environ.get("LISPSTACK_DEBUG"):
            raise
        print(
            f"lispstack {args.command}: internal error: {type(error).__name__}: {error} "
            "(run with LISPSTACK_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL_ERROR
    return code


if __name__ == "__main__":
    sys.exit(main())
