"""`lispstack demo`: the seed scenario told step by step, every step checked."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lispstack.lab.demo import run_demo
from lispstack.lab.netns import NetnsError
from lispstack.lab.prerequisites import missing
from lispstack.lab.runner import LabError
from lispstack.lab.topology import TopologyError, check_lab_name


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="the seed scenario, step by step, in a real lab",
        description="Build the seed lab with a capture, replay the scenario, check every "
        "step, tear the lab down. Exit 0 only if every check held.",
    )
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    parser.add_argument(
        "--capture",
        default="/tmp/lispstack-demo.pcapng",
        help="where to write the capture of the RLOC links (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="the steps and checks as JSON")
    parser.add_argument("--name", help="the lab's name (default: the topology's, seed)")
    story = parser.add_mutually_exclusive_group()
    story.add_argument(
        "--pxtr",
        action="store_true",
        help="the proxy xTR story (seed-pxtr lab) instead of the seed scenario",
    )
    story.add_argument(
        "--tenants",
        action="store_true",
        help="the instance-id story (tenants lab): two tenants, the same addresses, isolated",
    )
    story.add_argument(
        "--ddt",
        action="store_true",
        help="the LISP-DDT story (ddt lab): referrals walked, cached, a hole, a dead Map-Server",
    )
    story.add_argument(
        "--nat",
        action="store_true",
        help="the NAT traversal story (nat lab): a site behind a NAT, through an RTR",
    )
    story.add_argument(
        "--multihoming",
        action="store_true",
        help="the multihoming story (multihomed lab): an uplink cut, RLOC probes missed, "
        "failover to the second RLOC, recovery",
    )
    story.add_argument(
        "--mobility",
        action="store_true",
        help="the mobility story (mobility lab): a host moves between two xTRs, SMR, "
        "traffic follows",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    problem = missing("demo", ("ip", "ping", "dumpcap", "mergecap", "tshark"))
    if problem is not None:
        print(f"lispstack demo: {problem}", file=sys.stderr)
        return 2
    try:
        name = check_lab_name(args.name) if args.name else None
        stories = ("pxtr", "tenants", "ddt", "nat", "multihoming", "mobility")
        story = next((s for s in stories if getattr(args, s)), "seed")
        return run_demo(Path(args.capture).resolve(), args.keep, args.json, story, name)
    except TopologyError as error:
        print(f"lispstack demo: {error}", file=sys.stderr)
        return 2
    except (LabError, NetnsError) as error:
        print(f"lispstack demo: {error}", file=sys.stderr)
        return 1
