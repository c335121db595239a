"""`lispstack perf map-resolver ADDR`: measure Map-Replies per second and latency."""

from __future__ import annotations

import argparse
import json
import sys
from ipaddress import IPv4Address
from typing import Any

from lispstack.cli.arguments import integer, seconds
from lispstack.core.events import CONTROL_PORT
from lispstack.io.perf import MAX_PORTS, eids_from, run_perf


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "perf",
        help="load generator: ECM Map-Requests against a Map-Resolver",
        description="Send ECM Map-Requests with a bounded window; report replies/s and "
        "latency percentiles.",
    )
    parser.add_argument(
        "target", choices=["map-resolver"], help="what to load (only map-resolver, for now)"
    )
    parser.add_argument("address", help="the Map-Resolver's IPv4 address (UDP 4342)")
    parser.add_argument(
        "--eids",
        default="4.0.0.0/8",
        help="a file of EIDs (one a line) or a prefix to draw them from",
    )
    parser.add_argument(
        "--count",
        type=integer(1),
        default=10_000,
        help="how many EIDs to draw from a prefix (default 10,000); each is asked in turn",
    )
    parser.add_argument(
        "--duration",
        type=seconds,
        default=10.0,
        help="how long to send, in seconds (default 10)",
    )
    parser.add_argument(
        "--window",
        type=integer(1),
        default=64,
        help="at most this many Map-Requests unanswered at a time (default 64); an unanswered "
        "one counts as lost after 1 s",
    )
    parser.add_argument(
        "--ports",
        type=integer(1, MAX_PORTS),
        default=1,
        help="send from this many UDP ports in turn, as several ITRs would (default 1)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="the summary as one JSON object (latency_ms null when no reply came)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        resolver = IPv4Address(args.address)
        eids = eids_from(args.eids, count=args.count)
    except OSError as error:
        return _usage(f"cannot read {args.eids}: {error.strerror}")
    except ValueError as error:
        return _usage(str(error))
    if not eids:
        return _usage(f"{args.eids} holds no EID")
    result = run_perf(resolver, eids, duration=args.duration, window=args.window, ports=args.ports)
    latency = (
        {f"p{int(q * 100)}": round(result.percentile(q), 3) for q in (0.5, 0.9, 0.99)}
        if result.received
        else None
    )
    summary: dict[str, object] = {
        "sent": result.sent,
        "received": result.received,
        "lost": result.lost,
        "elapsed_s": round(result.elapsed, 3),
        "replies_per_s": round(result.replies_per_second),
        "latency_ms": latency,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"sent {result.sent}  received {result.received}  lost {result.lost}  "
            f"in {result.elapsed:.1f} s"
        )
        if latency is not None:
            print(
                f"replies/s {round(result.replies_per_second):,}  latency ms "
                + "  ".join(f"{k} {v}" for k, v in latency.items())
            )
    if not result.received:
        print(
            f"lispstack perf: no Map-Reply came back from {resolver} port {CONTROL_PORT} in "
            f"{result.elapsed:.1f} s ({result.sent:,} ECM Map-Requests sent): check that a "
            "node with role map-resolver runs there and listens on that address (listen in "
            "its [node]; none = every address), e.g. `lispstack show --node NAME statistics` "
            f"on it, and that no firewall drops UDP {CONTROL_PORT}",
            file=sys.stderr,
        )
        return 1
    return 0


def _usage(message: str) -> int:
    print(f"lispstack perf: {message}", file=sys.stderr)
    return 2
