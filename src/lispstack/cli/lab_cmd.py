"""`lispstack lab up|exec|show|status|draw|down`: topologies of real nodes in network namespaces.

Exit codes: 0 done, 1 the lab failed (message names the node and its log),
2 usage or missing prerequisites (root, tools); `exec` passes CMD's code
(128+N for signal N), or as a shell would: 127 CMD not found, 126 not executable.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from lispstack.cli.show_cmd import add_topic_arguments
from lispstack.cli.show_cmd import run as run_show
from lispstack.config.model import Engine
from lispstack.lab import netns
from lispstack.lab.drawing import draw_lab
from lispstack.lab.netns import NetnsError
from lispstack.lab.prerequisites import missing
from lispstack.lab.runner import Lab, LabError
from lispstack.lab.topology import TopologyError, load_topology

EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "lab",
        help="build and run a topology of lispstack nodes in network namespaces",
        description="State, logs and sockets of lab NAME live in /run/lispstack/lab/NAME/.",
    )
    commands = parser.add_subparsers(
        dest="lab_command",
        required=True,
        metavar="COMMAND",
        help="`lispstack lab COMMAND --help` for one",
    )
    up = commands.add_parser("up", help="build the topology, start every node, wait for ETRs")
    up.add_argument("topology", nargs="?", default="seed", help="a TOML file, or 'seed'")
    up.add_argument("--name", help="the lab's name (default: the topology's)")
    up.add_argument("--capture", help="record the RLOC-side links into this pcapng")
    up.add_argument(
        "--engine",
        choices=[e.value for e in Engine],
        help="run every xTR, PITR and PETR on this data-plane engine ([data-plane] engine)",
    )
    up.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the ETRs (default: 30)"
    )
    for name, help_text in (
        ("exec", "run a command in a node's namespace (its exit code passes through)"),
        ("show", "lispstack show for a lab node"),
        ("status", "what runs (a stopped node shows with the end of its log)"),
        ("draw", "draw the lab (nodes, roles, links, addresses, EIDs, registered or not) as SVG"),
        ("restart", "restart one node (its map-cache starts empty), optionally with --config"),
        ("down", "stop and remove everything the lab made (idempotent)"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--name", default="seed", help="the lab (default: seed)")
        if name in ("exec", "show", "restart"):
            command.add_argument("node", help="a node of the lab, as its topology names it")
        if name == "exec":
            command.add_argument("argv", nargs=argparse.REMAINDER, help="-- CMD ...")
        if name == "show":
            add_topic_arguments(command)
        if name == "status":
            command.add_argument("--json", action="store_true", help="the status as JSON")
        if name == "draw":
            command.add_argument("out", help="the SVG file to write")
        if name == "restart":
            command.add_argument("--config", help="a node config (default: the one it runs)")
    parser.set_defaults(handler=run)


def _fail(message: str, code: int = 2) -> int:
    print(f"lispstack lab: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    tools = ("ip", "dumpcap", "mergecap") if getattr(args, "capture", None) else ("ip",)
    problem = missing("lab", tools)
    if problem is not None:
        return _fail(problem)
    try:
        return _dispatch(args)
    except TopologyError as error:
        return _fail(str(error))
    except (LabError, NetnsError) as error:
        return _fail(str(error), 1)


def _dispatch(args: argparse.Namespace) -> int:
    command = args.lab_command
    if command == "up":
        return _up(args)
    lab = Lab(args.name)
    if command == "down":
        merged = lab.down()
        print(f"lab {lab.name} is down" + (f"; capture: {merged}" if merged else ""))
        return 0
    state = lab.state()
    if state is None:
        logs = sorted(str(p) for p in lab.directory.glob("*.log"))
        hint = f" (logs of its last failed start: {', '.join(logs)})" if logs else ""
        return _fail(f"lab '{lab.name}' is not up{hint}", 1)
    if command == "status":
        return _status(lab, args.json)
    if command == "draw":
        out = Path(args.out)
        if not out.parent.is_dir():
            return _fail(f"draw {out}: no directory {out.parent}")
        try:
            print(f"lab {lab.name} drawn into {draw_lab(lab, out)}")
        except OSError as error:
            return _fail(f"draw {out}: {error.strerror or error}")
        return 0
    known = [*state["nodes"], *state["hosts"]]
    if args.node not in known:
        return _fail(f"lab '{lab.name}' has no node '{args.node}' (nodes: {', '.join(known)})")
    if command == "show":
        if args.node not in state["nodes"]:
            return _fail(f"{args.node} is a plain host: it runs no lispstack node to ask")
        show = argparse.Namespace(
            socket=str(lab.socket(args.node)),
            node=None,
            topic=args.topic,
            arg=args.arg,
            json=args.json,
        )
        return run_show(show)
    if command == "restart":
        if args.node not in state["nodes"]:
            return _fail(f"{args.node} is a plain host: it runs no lispstack node")
        config = Path(args.config or state["nodes"][args.node]["config"]).resolve()
        lab.restart_node(args.node, config)
        registered = not state["nodes"][args.node]["etr"] or lab.wait_registered(args.node)
        print(f"{args.node} restarted with {config}" + ("" if registered else "; NOT registered"))
        return 0 if registered else 1
    return _exec(lab, args.node, args.argv[1:] if args.argv[:1] == ["--"] else args.argv)


def _exec(lab: Lab, node: str, argv: list[str]) -> int:
    """CMD in the node's namespace, its exit code passed through; what `ip netns exec`
    would say about a missing command or namespace is said here, with our prefix."""
    if not argv:
        return _fail("usage: lispstack lab exec [--name NAME] NODE -- CMD ...")
    problem = _not_runnable(argv[0])
    if problem is not None:
        return _fail(f"exec: {problem[0]}", problem[1])
    namespace = lab.namespace(node)
    if not netns.exists(namespace):
        return _fail(
            f"the namespace {namespace} of node {node} is gone: "
            f"lispstack lab down --name {lab.name}, then lab up again",
            1,
        )
    code = subprocess.call(["ip", "netns", "exec", namespace, *argv])
    return 128 - code if code < 0 else code


def _not_runnable(command: str) -> tuple[str, int] | None:
    """Why `command` cannot run and the shell's exit code for that (127, 126), or None."""
    if "/" not in command:
        found = shutil.which(command)
        if found is None:
            return f"{command}: command not found (searched PATH)", EXIT_NOT_FOUND
        command = found
    path = Path(command)
    if not path.exists():
        return f"{command}: no such file", EXIT_NOT_FOUND
    if path.is_dir() or not os.access(path, os.X_OK):
        return f"{command}: not executable", EXIT_NOT_EXECUTABLE
    return None


def _up(args: argparse.Namespace) -> int:
    topology = load_topology(args.topology)
    if args.engine is not None:
        topology = topology.with_engine(Engine(args.engine))
    lab = Lab(args.name or topology.name)
    capture = Path(args.capture).resolve() if args.capture else None
    lab.up(topology, capture, args.timeout)
    print(f"lab {lab.name} is up ({topology.source}); every ETR is registered")
    for entry in lab.status():
        what = f"pid {entry['pid']}, log {entry['log']}" if "pid" in entry else "plain host"
        print(f"  {entry['node']:12} namespace {entry['namespace']:20} {what}")
    if capture is not None:
        print(f"  capture: recording the RLOC links; written to {capture} at lab down")
    print(
        f"  try: lispstack lab show --name {lab.name} NODE statistics; lab down --name {lab.name}"
    )
    return 0


def _status(lab: Lab, as_json: bool) -> int:
    status = lab.status()
    capture = lab.capture_status()
    healthy = all(entry.get("running", True) for entry in status)
    if as_json:
        print(json.dumps({"lab": lab.name, "nodes": status, "capture": capture}, indent=2))
        return 0 if healthy else 1
    print(f"lab {lab.name}: {lab.directory}")
    for entry in status:
        if entry["kind"] == "host":
            print(f"  {entry['node']:12} host     namespace {entry['namespace']}")
            continue
        state = "running" if entry["running"] else "STOPPED"
        if "registered" in entry:
            state += ", registered" if entry["registered"] else ", NOT registered"
        print(f"  {entry['node']:12} {state:22} pid {entry['pid']:<8} log {entry['log']}")
        if not entry["running"]:
            print("    " + (entry["log_tail"] or "(empty log)").replace("\n", "\n    "))
    if capture["file"]:
        recording = "recording" if capture["recording"] else "NOT recording"
        print(f"  capture: {recording}, written to {capture['file']} at lab down")
    return 0 if healthy else 1
