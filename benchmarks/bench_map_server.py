"""Map-Server / Map-Resolver core speed through Node.handle (not a test; prints a table).

    .venv/bin/python benchmarks/bench_map_server.py [--prefixes N]

Registers N more-specific prefixes of one site (authenticated Map-Registers,
HMAC-SHA-256, one record each), refreshes them all (the same Map-Registers
with new nonces, as ETRs send them every minute), then answers Map-Requests
for registered (proxy) and unregistered EIDs, and reports the resident set
size.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import time
from ipaddress import IPv4Address

from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import DatagramReceived, Endpoint
from lispstack.io.daemon import GC_THRESHOLDS
from lispstack.io.perf import templates
from lispstack.wire import Locator, MappingRecord, MapRegister

CONFIG = """
[node]
name = "bench"
roles = ["map-server", "map-resolver"]

[[sites]]
name = "big"
auth-key = "bench-key"
eid-prefixes = ["10.0.0.0/8"]
accept-more-specifics = true
"""
KEY = b"bench-key"
ETR = Endpoint(IPv4Address("192.0.2.1"), 4342)
LOCAL = Endpoint(IPv4Address("192.0.2.254"), 4342)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)  # as `lispstack run` does
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefixes", type=int, default=200_000)
    args = parser.parse_args()
    node = build_node(parse_config(CONFIG, "bench.toml"), random.Random(1))
    locator = Locator(address=IPv4Address("192.0.2.1"))
    rows = []
    for name, first_nonce, now in (("accepted", 1, 1.0), ("refresh", args.prefixes + 1, 61.0)):
        registers = []
        for index in range(args.prefixes):
            record = MappingRecord(
                eid=IPv4Address(0x0A000000 + index * 4), eid_mask_len=30, locators=(locator,)
            )
            register = MapRegister(nonce=first_nonce + index, records=(record,), proxy_reply=True)
            registers.append(DatagramReceived(register.signed(KEY)[1], ETR, LOCAL))
        started = time.perf_counter()
        for event in registers:
            node.handle(event, now)
        rows.append(
            (
                f"Map-Register (HMAC-SHA-256), {name}",
                len(registers) / (time.perf_counter() - started),
            )
        )
    assert node.counters.get("registrations.refreshed") == args.prefixes

    itr = IPv4Address("192.0.2.9")
    for name, eids in (
        ("Map-Request -> negative reply", [IPv4Address(0x04000000 + i) for i in range(1000)]),
        ("Map-Request -> proxy reply", [IPv4Address(0x0A000000 + i * 4) for i in range(1000)]),
    ):
        events = [
            DatagramReceived(t, Endpoint(itr, 5000), LOCAL) for t in templates(eids, itr, 5000)
        ]
        count = 50_000
        started = time.perf_counter()
        for i in range(count):
            node.handle(events[i % len(events)], 2.0)
        rows.append((name, count / (time.perf_counter() - started)))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.prefixes:,} registered prefixes, peak RSS {rss_mb:,.0f} MB")
    print(f"{'operation':42} {'per second':>12} {'µs each':>9}")
    for name, rate in rows:
        print(f"{name:42} {rate:12,.0f} {1e6 / rate:9.1f}")


if __name__ == "__main__":
    main()
