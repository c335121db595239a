"""`lispstack cleanup [--all | CONFIG]`: remove what a killed node left behind."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from lispstack.config import ConfigError, load_config
from lispstack.io.cleanup import NodeRunning, cleanup_all, cleanup_node


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "cleanup",
        help="remove what a killed node left (rules, routes, TUN device, control socket)",
        description="Remove what a killed node left behind in this network namespace: its "
        "policy rules and the routes of table 4341 (and of protocol 250 in the main table), "
        "its TUN device, its stale control socket. Nothing a running node still uses is "
        "removed. Says what it removed.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("config", nargs="?", help="the killed node's TOML configuration")
    which.add_argument(
        "--all",
        action="store_true",
        help="every stale control socket in /run/lispstack, and every rule and route of ours",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("lispstack cleanup: needs root (rules, routes, devices)", file=sys.stderr)
        return 1
    try:
        removed = cleanup_all() if args.all else cleanup_node(load_config(args.config))
    except ConfigError as error:
        print(f"lispstack cleanup: {error}", file=sys.stderr)
        return 2
    except NodeRunning as error:
        print(f"lispstack cleanup: {error}: nothing removed", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"lispstack cleanup: {error.strerror or error}", file=sys.stderr)
        return 1
    for line in removed:
        print(f"removed {line}")
    if not removed:
        print("nothing to remove")
    return 0
