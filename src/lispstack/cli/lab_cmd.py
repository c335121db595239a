"""`lispstack lab up|exec|show|status|down`: topologies of real nodes in network namespaces."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lispstack.cli.show_cmd import TOPICS
from lispstack.cli.show_cmd import run as run_show
from lispstack.lab.netns import NetnsError
from lispstack.lab.runner import Lab, LabError
from lispstack.lab.topology import TopologyError, load_topology


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "lab", help="build and run a topology of lispstack nodes in network namespaces"
    )
    commands = parser.add_subparsers(dest="lab_command", required=True, metavar="COMMAND")
    up = commands.add_parser("up", help="build the topology and start every node")
    up.add_argument("topology", nargs="?", default="seed", help="a TOML file, or 'seed'")
    up.add_argument("--capture", help="record the RLOC-side links into this pcapng")
    for name, help_text in (
        ("exec", "run a command in a node's namespace"),
        ("show", "lispstack show for a lab node"),
        ("status", "what runs"),
        ("down", "stop and remove everything"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--name", default="seed", help="the lab (default: seed)")
        if name == "exec":
            command.add_argument("node")
            command.add_argument("argv", nargs=argparse.REMAINDER, help="-- CMD ...")
        if name == "show":
            command.add_argument("node")
            command.add_argument("topic", choices=TOPICS)
            command.add_argument("arg", nargs="?")
            command.add_argument("--json", action="store_true")
        if name == "status":
            command.add_argument("--json", action="store_true")
    up.add_argument("--name", help="the lab's name (default: the topology's)")
    parser.set_defaults(handler=run)


def _fail(message: str, code: int = 2) -> int:
    print(f"lispstack lab: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        return _fail(
            "labs need root: network namespaces, veth links and TUN devices (run it with sudo)"
        )
    try:
        return _dispatch(args)
    except (LabError, TopologyError, NetnsError) as error:
        return _fail(str(error), 1)


def _dispatch(args: argparse.Namespace) -> int:
    command = args.lab_command
    if command == "up":
        topology = load_topology(args.topology)
        lab = Lab(args.name or topology.name)
        capture = Path(args.capture).resolve() if args.capture else None
        lab.up(topology, capture)
        print(f"lab {lab.name} is up: {len(topology.nodes)} nodes; logs in {lab.directory}")
        return 0
    lab = Lab(args.name)
    if command == "down":
        merged = lab.down()
        print(f"lab {lab.name} is down" + (f"; capture: {merged}" if merged else ""))
        return 0
    if lab.state() is None:
        return _fail(f"lab '{lab.name}' is not up", 1)
    if command == "status":
        status = lab.status()
        if args.json:
            print(json.dumps(status, indent=2))
        for entry in [] if args.json else status:
            state = "running" if entry["running"] else "STOPPED"
            print(f"{entry['node']:12} {state:8} pid {entry['pid']:<8} log {entry['log']}")
            if not entry["running"]:
                print("  " + entry["log_tail"].replace("\n", "\n  "))
        return 0 if all(entry["running"] for entry in status) else 1
    if command == "show":
        return run_show(
            argparse.Namespace(
                socket=str(lab.socket(args.node)),
                node=None,
                topic=args.topic,
                arg=args.arg,
                json=args.json,
            )
        )
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        return _fail("lab exec NODE -- CMD ...")
    return subprocess.call(["ip", "netns", "exec", lab.namespace(args.node), *argv])
