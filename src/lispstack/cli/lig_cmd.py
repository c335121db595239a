"""`lispstack lig EID --map-resolver ADDR`: ask the mapping system like an ITR would."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lispstack.cli.arguments import address, integer, seconds
from lispstack.io.lig import LigAnswer, lig
from lispstack.mapping.prefix import MAX_IID


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "lig",
        help="LISP Internet Groper: send a Map-Request, print the Map-Reply",
        description="Send an ECM Map-Request for EID to a Map-Resolver and print the answer. "
        "Exit 0 when a reply came.",
    )
    parser.add_argument("eid", type=address, help="the EID to ask for (IPv4 or IPv6)")
    parser.add_argument(
        "--map-resolver", type=address, required=True, help="the Map-Resolver's address (UDP 4342)"
    )
    parser.add_argument(
        "--source", type=address, help="ITR-RLOC to send from (default: towards the resolver)"
    )
    parser.add_argument(
        "--iid", type=integer(0, MAX_IID), default=0, help="the EID's instance-id (default 0)"
    )
    parser.add_argument(
        "--count", type=integer(1), default=3, help="how many tries before giving up (default 3)"
    )
    parser.add_argument(
        "--timeout", type=seconds, default=2.0, help="seconds to wait for each try (default 2)"
    )
    parser.add_argument(
        "--json", action="store_true", help="the answer as JSON (the Map-Reply in 'message')"
    )
    parser.set_defaults(handler=run)


def _text(eid: str, answer: LigAnswer) -> str:
    lines = [
        f"Send map-request for {eid} ... received reply from {answer.replier} "
        f"in {answer.rtt_ms:.1f} ms (attempt {answer.attempts})"
    ]
    for record in answer.reply.records:
        r = record.to_json()
        prefix = f"[{r['iid']}]{r['eid']}" if r["iid"] else r["eid"]
        lines.append(
            f"Mapping entry for EID {eid}: {prefix}, record ttl {r['ttl']}, "
            f"auth bit {'set' if r['authoritative'] else 'not set'}, action {r['action']}"
        )
        for loc in r["rlocs"]:
            lines.append(
                f"  locator {loc['address']}  priority/weight {loc['priority']}/"
                f"{loc['weight']}  {'up' if loc['reachable'] else 'down'}"
                f"{'  local' if loc['local'] else ''}"
            )
        if not r["rlocs"]:
            lines.append("  no locators (negative reply)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    eid, resolver, source = args.eid, args.map_resolver, args.source
    answer = lig(eid, resolver, source=source, iid=args.iid, count=args.count, timeout=args.timeout)
    if answer is None:
        print(
            f"lispstack lig: no Map-Reply for {eid} from {resolver} after {args.count} tries",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(
            json.dumps(
                {
                    "eid": str(eid),
                    "map_resolver": str(resolver),
                    "rtt_ms": round(answer.rtt_ms, 3),
                    "replier": answer.replier,
                    "message": answer.reply.to_json(),
                }
            )
        )
    else:
        print(_text(str(eid), answer))
    return 0
