"""Data-plane speed through the ITR / ETR roles, and map-cache lookup at a million entries.

.venv/bin/python benchmarks/bench_dataplane_core.py [--entries N] [--packets N] [--repeat N]

Each figure is the best of --repeat runs (as timeit does), timed in this
process's CPU time: on a shared VM, wall-clock time and the slower runs
measure the neighbours.

The ITR draws a nonce per encapsulated packet: encapsulation is measured with
the production randomness (the OS CSPRNG in batches, io/randomness.py), and
for comparison with a seeded random.Random (the tests') and random.SystemRandom
(a system call per draw).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from ipaddress import IPv4Address
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.xtr_fixtures import build_xtr, datagram, icmp, lisp1_config
from lispstack.core.encapsulation import data_header
from lispstack.core.itr import Itr
from lispstack.core.xtr_cache import XtrCache
from lispstack.io.randomness import BatchedSystemRandom
from lispstack.wire.records import Locator, MappingRecord


def rate(label: str, count: int, seconds: float) -> None:
    print(f"{label:<42} {count / seconds:>14,.0f} ops/s {seconds / count * 1e9:>10,.0f} ns/op")


def best(run: Callable[[], None], repeat: int) -> float:
    """The shortest of `repeat` runs, in seconds of CPU time."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    record = MappingRecord(
        eid=IPv4Address("192.168.2.0"),
        eid_mask_len=24,
        locators=(Locator(address=IPv4Address("10.0.2.2")),),
    )
    packets = [icmp("192.168.1.1", f"192.168.2.{i % 250 + 1}") for i in range(256)]
    n, repeat = args.packets, args.repeat
    for label, rng in (
        ("encapsulate (Itr.handle_tun)", BatchedSystemRandom()),
        ("  same, seeded random.Random", random.Random(1)),
        ("  same, random.SystemRandom", random.SystemRandom()),
    ):
        etr, itr, _ = build_xtr(lisp1_config(), rng=rng)
        itr.cache.insert(record, 0.0, "bench")

        def encapsulate(itr: Itr = itr) -> None:
            for i in range(n):
                itr.handle_tun(packets[i & 255], 1.0)

        rate(label, n, best(encapsulate, repeat))
    grams = [
        datagram(
            data_header(1, 1) + icmp("192.168.2.1", f"192.168.1.{i % 250 + 1}"),
            "10.0.2.2",
            50000,
            "10.0.1.1",
            4341,
        )
        for i in range(256)
    ]

    def decapsulate() -> None:
        for i in range(n):
            etr.handle_data(grams[i & 255], 1.0)

    rate("decapsulate (Etr.handle_data)", n, best(decapsulate, repeat))

    rng = random.Random(1)
    cache = XtrCache(limit=args.entries + 1)
    build = time.perf_counter()
    for _ in range(args.entries):
        length = rng.randint(8, 32)
        network = (rng.getrandbits(32) >> (32 - length)) << (32 - length)
        cache.insert(
            MappingRecord(eid=IPv4Address(network), eid_mask_len=length, locators=record.locators),
            0.0,
            "bench",
        )
    print(f"map-cache: {len(cache):,} entries inserted in {time.perf_counter() - build:.1f} s")
    probes = [rng.getrandbits(32) for _ in range(100_000)]

    def lookups(addresses: list[int]) -> Callable[[], None]:
        def run() -> None:
            for address in addresses:
                cache.lookup(0, 4, address, 1.0)

        return run

    seconds = best(lookups(probes), repeat)
    rate(f"map-cache lookup at {len(cache):,} entries", len(probes), seconds)
    # Uniformly random probes measure the trie walk's cache misses; traffic goes to far
    # fewer destinations at a time, whose trie paths stay in the CPU caches.
    flows = [probes[i % 1000] for i in range(len(probes))]
    rate("  same, 1,000 active destinations", len(flows), best(lookups(flows), repeat))


if __name__ == "__main__":
    main()
