"""Memory of LISP-DDT at scale: a DDT node with N delegations, a referral cache of N entries.

    .venv/bin/python benchmarks/bench_ddt_memory.py [--prefixes N]

In one process, resident set size (VmRSS) read before and after each step:
(1) N delegations of /28 prefixes of 10.0.0.0/8 (kind map-server, two Map-Servers
each) as the config loader builds them; (2) the DdtNode built from them (its prefix
tables of referral records and the hole finder); (3) a DDT Map-Resolver's referral
cache holding N MS-REFERRAL records (one per /28, the referral set of two Map-Servers
shared, as the same node's answers are). Also prints build times and the rate of
referral-cache lookups and of DDT node answers (`DdtNode.referral`) at that size.
Not a test: it prints numbers and gates nothing.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from lispstack.config.model import Delegation, DelegationChild, DelegationKind
from lispstack.config.prefix import ConfigPrefix
from lispstack.core.counters import Counters
from lispstack.core.ddt_node import DdtNode
from lispstack.core.drops import DropRecorder
from lispstack.core.referral_cache import ReferralCache
from lispstack.core.referrals import ref_locators, referral_record
from lispstack.mapping.prefix import EidPrefix
from lispstack.wire.map_referral import ReferralAction

BASE = int(IPv4Address("10.0.0.0"))
CHILDREN = (
    DelegationChild(address=IPv4Address("192.0.2.1"), priority=1),
    DelegationChild(address=IPv4Address("192.0.2.2"), priority=2),
)


def _rss_mib() -> float:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _networks(count: int) -> list[IPv4Network]:
    return [IPv4Network((BASE + i * 16, 28)) for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefixes", type=int, default=1_000_000)
    args = parser.parse_args()
    count = args.prefixes
    rng = random.Random(1)
    start = _rss_mib()
    print(f"process RSS at start: {start:,.0f} MiB; {count:,} delegated /28 prefixes")

    networks = _networks(count)
    delegations = [
        Delegation(
            eid_prefix=ConfigPrefix(iid=0, network=network),
            children=CHILDREN,
            kind=DelegationKind.MAP_SERVER,
        )
        for network in networks
    ]
    configured = _rss_mib()
    print(f"(1) the delegations as configured:   {configured - start:8,.0f} MiB")

    began = time.perf_counter()
    counters = Counters()
    node = DdtNode(
        [EidPrefix(0, IPv4Network("10.0.0.0/8"))],
        [(EidPrefix(0, d.eid_prefix.network), d) for d in delegations],
        counters,
        DropRecorder(counters),
    )
    built = time.perf_counter() - began
    with_node = _rss_mib()
    print(
        f"(2) the DDT node's tables:           {with_node - configured:8,.0f} MiB "
        f"(built in {built:.1f} s)"
    )
    asked = [IPv4Address(BASE + rng.randrange(count * 16)) for _ in range(100_000)]
    began = time.perf_counter()
    for eid in asked:
        node.referral(0, eid, 32)
    print(
        f"    DDT node answers:               {len(asked) / (time.perf_counter() - began):8,.0f}/s"
    )
    del node, delegations
    freed = _rss_mib()

    locators = ref_locators(CHILDREN)
    began = time.perf_counter()
    cache = ReferralCache(limit=count)
    for network in networks:
        prefix = EidPrefix(0, network)
        record = referral_record(ReferralAction.MS_REFERRAL, prefix, 1440, locators)
        cache.put(prefix, record, 0.0)
    built = time.perf_counter() - began
    with_cache = _rss_mib()
    print(
        f"(3) the referral cache ({len(cache):,} entries): {with_cache - freed:8,.0f} MiB "
        f"(filled in {built:.1f} s)"
    )
    began = time.perf_counter()
    for eid in asked:
        cache.entry_v4(int(eid), 1.0)
    print(
        f"    referral-cache lookups:         {len(asked) / (time.perf_counter() - began):8,.0f}/s"
    )


if __name__ == "__main__":
    main()
