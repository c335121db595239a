"""`lispstack reload`: have a running node apply its configuration file as it reads now."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lispstack.cli.show_cmd import add_node_arguments, node_socket
from lispstack.io.control_socket import ControlError, ask

RELOAD_TIMEOUT_S = 30.0
"""A reload of many sites builds their tables again: give it longer than a `show`."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "reload",
        help="apply a running node's changed configuration file",
        description="Have a running node read its configuration file again and apply "
        "what changed, keeping its registrations and map-cache (the same as SIGHUP). "
        "A file with an error, or one that changes what a running node cannot "
        "(roles, listen addresses, workers, sockets, tun), is refused and the node "
        "goes on unchanged.",
    )
    add_node_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path = node_socket(args, "reload")
    if path is None:
        return 2
    try:
        changes = ask(path, "reload", None, timeout=RELOAD_TIMEOUT_S)
    except ControlError as error:
        message = str(error)
        print(f"lispstack reload: {message}", file=sys.stderr)
        return 2 if message.startswith("no node") or str(path) in message else 1
    if not isinstance(changes, list) or not changes:
        print("reloaded: no change")
        return 0
    print(f"reloaded: {len(changes)} change{'s' if len(changes) > 1 else ''}")
    for change in changes:
        print(f"  {change}")
    return 0
