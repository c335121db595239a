"""`lispstack rig EID --ddt-node ADDR`: walk the LISP-DDT referrals for an EID."""

from __future__ import annotations

import argparse
import json
from typing import Any

from lispstack.cli.arguments import address, integer, seconds
from lispstack.io.rig import MAX_HOPS, RigWalk, rig
from lispstack.mapping.prefix import MAX_IID


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "rig",
        help="Referral Internet Groper: walk the LISP-DDT referrals for an EID",
        description="Send DDT Map-Requests for EID, starting at a DDT node and following "
        "its Map-Referrals, and print each hop. Exit 0 when the walk ends at an answer "
        "(ms-ack, ms-not-registered or delegation-hole).",
    )
    parser.add_argument("eid", type=address, help="the EID to ask for (IPv4 or IPv6)")
    parser.add_argument(
        "--ddt-node", type=address, required=True, help="the DDT node to start at (UDP 4342)"
    )
    parser.add_argument(
        "--source", type=address, help="address to send from (default: towards the node)"
    )
    parser.add_argument(
        "--iid", type=integer(0, MAX_IID), default=0, help="the EID's instance-id (default 0)"
    )
    parser.add_argument(
        "--timeout", type=seconds, default=2.0, help="seconds to wait for each hop (default 2)"
    )
    parser.add_argument(
        "--max-hops",
        type=integer(1, 255),
        default=MAX_HOPS,
        help=f"give up after this many hops (default {MAX_HOPS})",
    )
    parser.add_argument(
        "--json", action="store_true", help="the walk as JSON ('hops': node, action, referrals)"
    )
    parser.set_defaults(handler=run)


def _text(eid: str, walk: RigWalk) -> str:
    lines = [f"Send DDT map-requests for {eid}:"]
    for number, hop in enumerate(walk.hops, 1):
        h = hop.to_json()
        if hop.record is None:
            lines.append(f"{number:>2}  {h['node']}  no answer")
            continue
        lines.append(
            f"{number:>2}  {h['node']}  {h['action']} {h['eid_prefix']}  ttl {h['ttl']}"
            f"{'  incomplete' if h['incomplete'] else ''}  {h['rtt_ms']:.1f} ms"
        )
        for ref in h["referrals"]:
            lines.append(
                f"      referral {ref['address']}  priority/weight "
                f"{ref['priority']}/{ref['weight']}"
            )
    lines.append(f"Result: {walk.outcome}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    eid, node, source = args.eid, args.ddt_node, args.source
    walk = rig(eid, node, source=source, iid=args.iid, timeout=args.timeout, max_hops=args.max_hops)
    if args.json:
        document = {
            "eid": str(eid),
            "iid": args.iid,
            "ddt_node": str(node),
            "outcome": walk.outcome,
            "hops": [hop.to_json() for hop in walk.hops],
        }
        print(json.dumps(document))
    else:
        print(_text(str(eid), walk))
    return 0 if walk.found else 1
