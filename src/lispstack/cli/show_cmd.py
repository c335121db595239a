"""`lispstack show`: ask a running node through its control socket."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lispstack.cli.tables import render
from lispstack.io.control_socket import ControlError, ask, socket_path

TOPICS = (
    "map-cache",
    "database",
    "registrations",
    "sites",
    "forwarding",
    "statistics",
    "config",
    "referral-cache",
    "subscriptions",
    "delegations",
    "nat",
)


def add_topic_arguments(parser: argparse.ArgumentParser) -> None:
    """TOPIC [ARG] [--json], as `show` and `lab show` take them."""
    parser.add_argument("topic", choices=TOPICS, metavar="TOPIC", help="what to show: %(choices)s")
    parser.add_argument(
        "arg",
        nargs="?",
        help="an EID: for map-cache and registrations (the entry covering it), "
        "forwarding (required)",
    )
    parser.add_argument("--json", action="store_true", help="the node's answer as JSON")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "show",
        help="ask a running node",
        description="Ask a running node through its "
        "control socket (default /run/lispstack/NAME.sock).",
    )
    add_node_arguments(parser)
    add_topic_arguments(parser)
    parser.set_defaults(handler=run)


def add_node_arguments(parser: argparse.ArgumentParser) -> None:
    """--node NAME | --socket PATH: which running node to ask."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--node", help="node name")
    where.add_argument("--socket", help="control socket path")


def node_socket(args: argparse.Namespace, command: str) -> Path | None:
    """The control socket --node or --socket names; None (and a line on stderr) if neither."""
    if args.socket:
        return Path(args.socket)
    if args.node:
        return socket_path(args.node)
    print(f"lispstack {command}: name the node with --node NAME or --socket PATH", file=sys.stderr)
    return None


def run(args: argparse.Namespace) -> int:
    path = node_socket(args, "show")
    if path is None:
        return 2
    if args.topic == "forwarding" and not args.arg:
        print("lispstack show: forwarding needs an EID", file=sys.stderr)
        return 2
    try:
        result = ask(path, args.topic, args.arg)
    except ControlError as error:
        message = str(error)
        print(f"lispstack show: {message}", file=sys.stderr)
        return 2 if message.startswith("no node") or str(path) in message else 1
    print(json.dumps(result, indent=2) if args.json else render(args.topic, result, args.arg))
    return 0
