"""Map-Resolver core speed through Node.handle at scale (not a test; prints a table).

    .venv/bin/python benchmarks/bench_map_resolver_core.py [--registered N] [--configured M]

Builds a Map-Server/Map-Resolver node as `lispstack run` does (build_node) with:
- site "big", 10.0.0.0/8, accept-more-specifics: N /30 registrations with
  proxy-reply, registered through Node.handle in authenticated Map-Registers
  of 100 records (HMAC-SHA-256);
- site "fwd", 172.16.0.0/16, one registration without proxy-reply;
- site "many": M configured /24 prefixes under 128.0.0.0/2, so that the
  negative-prefix computation runs against M + 2 configured prefixes.
Then answers ECM Map-Requests for distinct EIDs (every request a different
EID, no repeats) through the general path (Node.handle_control), and
through Node.handle, where the resolver fast path (core/resolver_fast_path.py)
sits in front of it.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network
from pathlib import PurePosixPath

from lispstack.config.model import NodeConfig, NodeRole, NodeSection, Site, SiteKey, TunOptions
from lispstack.config.prefix import ConfigPrefix
from lispstack.core.build import build_node
from lispstack.core.events import DatagramReceived, Endpoint
from lispstack.core.node import Node
from lispstack.io.daemon import GC_THRESHOLDS
from lispstack.io.perf import templates
from lispstack.wire import Locator, MappingRecord, MapRegister

KEY = "bench-key"
ETR = Endpoint(IPv4Address("192.0.2.1"), 4342)
LOCAL = Endpoint(IPv4Address("192.0.2.254"), 4342)
ITR = IPv4Address("192.0.2.9")
RECORDS_PER_REGISTER = 100


def _config(configured: int) -> NodeConfig:
    key = (SiteKey(key_id=0, key=KEY),)
    many = tuple(
        ConfigPrefix(iid=0, network=IPv4Network((0x80000000 + (i << 8), 24)))
        for i in range(configured)
    )
    sites = [
        Site(
            name="big",
            keys=key,
            eid_prefixes=(ConfigPrefix(iid=0, network=IPv4Network("10.0.0.0/8")),),
            accept_more_specifics=True,
        ),
        Site(
            name="fwd",
            keys=key,
            eid_prefixes=(ConfigPrefix(iid=0, network=IPv4Network("172.16.0.0/16")),),
        ),
    ]
    if many:
        sites.append(Site(name="many", keys=key, eid_prefixes=many))
    return NodeConfig(
        node=NodeSection(
            name="bench",
            roles=(NodeRole.MAP_SERVER, NodeRole.MAP_RESOLVER),
            control_socket=PurePosixPath("/nonexistent"),
        ),
        tun=TunOptions(device="unused"),
        sites=tuple(sites),
    )


def _register_all(node: Node, registered: int) -> float:
    locator = Locator(address=ETR.address)
    events = []
    for start in range(0, registered, RECORDS_PER_REGISTER):
        records = tuple(
            MappingRecord(eid=IPv4Address(0x0A000000 + i * 4), eid_mask_len=30, locators=(locator,))
            for i in range(start, min(start + RECORDS_PER_REGISTER, registered))
        )
        message = MapRegister(nonce=start + 1, records=records, proxy_reply=True)
        events.append(DatagramReceived(message.signed(KEY.encode())[1], ETR, LOCAL))
    fwd = MappingRecord(
        eid=IPv4Address("172.16.0.0"), eid_mask_len=16, locators=(Locator(address=ETR.address),)
    )
    events.append(
        DatagramReceived(MapRegister(nonce=1, records=(fwd,)).signed(KEY.encode())[1], ETR, LOCAL)
    )
    started = time.perf_counter()
    for event in events:
        node.handle(event, 1.0)
    elapsed = time.perf_counter() - started
    assert node.counters.get("registrations.accepted") == registered + 1
    return registered / elapsed


def _rate(handle: Callable[[DatagramReceived, float], object], payloads: list[bytes]) -> float:
    events = [DatagramReceived(p, Endpoint(ITR, 5000), LOCAL) for p in payloads]
    started = time.perf_counter()
    for event in events:
        handle(event, 2.0)
    return len(events) / (time.perf_counter() - started)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)  # as `lispstack run` does
    parser = argparse.ArgumentParser()
    parser.add_argument("--registered", type=int, default=1_000_000)
    parser.add_argument("--configured", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(1)
    started = time.perf_counter()
    node = build_node(_config(args.configured), random.Random(1))
    built = time.perf_counter() - started
    register_rate = _register_all(node, args.registered)

    count = args.requests
    workloads = {
        "negative, no site (15 min)": [
            IPv4Address(rng.randrange(0x01000000, 0x09000000)) for _ in range(count)
        ],
        "negative, site not registered (1 min)": [
            IPv4Address(0x0A000000 + 4 * args.registered + rng.randrange(0, 1 << 20))
            for _ in range(count)
        ],
        "proxy reply (registered /30)": [
            IPv4Address(0x0A000000 + 4 * rng.randrange(args.registered) + 1) for _ in range(count)
        ],
        "forward ECM to the ETR": [
            IPv4Address(0xAC100000 + rng.randrange(1, 1 << 16)) for _ in range(count)
        ],
    }
    rows = []
    for name, eids in workloads.items():
        payloads = templates(eids, ITR, 5000)
        general = _rate(node.handle_control, payloads)
        with_fast_path = _rate(node.handle, payloads)
        repeated = _rate(node.handle, payloads)
        rows.append((name, general, with_fast_path, repeated))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.registered:,} registered prefixes, {args.configured + 2:,} configured site "
        f"prefixes (built in {built:.1f} s), peak RSS {rss_mb:,.0f} MB"
    )
    print(f"Map-Register records accepted: {register_rate:,.0f}/s")
    print(f"Map-Requests/s, {count:,} distinct EIDs each, through Node.handle:")
    print(f"{'reply':40} {'general':>10} {'fast path':>10} {'fast, again':>12}")
    for name, general, first, again in rows:
        print(f"{name:40} {general:10,.0f} {first:10,.0f} {again:12,.0f}")


if __name__ == "__main__":
    main()
