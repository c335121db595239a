"""Mapping-layer speed and memory at scale: prints a table, gates nothing.

    .venv/bin/python benchmarks/bench_mapping.py [--entries 1000000] [--probes 200000]

Builds N random IPv4 prefixes (/16 to /32, in 0.0.0.0/1 so that 128.0.0.0/1
is guaranteed miss space), then measures: building EidPrefix keys, inserting
into PrefixTable (pytricia) and into a pure-Python dict per mask length,
longest-prefix lookups (hit and miss) on both, the ITR's map-cache, and the
negative-reply prefix. ns/op figures include the Python loop around the call
(about 20-30 ns). RSS is the peak resident size (ru_maxrss) after each phase.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from ipaddress import IPv4Address, IPv4Network
from typing import TypeVar

from lispstack.core.xtr_cache import XtrCache
from lispstack.mapping.negative_prefix import NegativePrefixFinder
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.prefix_table import PrefixTable
from lispstack.wire.records import Locator, MappingRecord


class DictPerLength:
    """The pure-Python alternative: one dict per mask length, probed longest first."""

    def __init__(self) -> None:
        self._by_length: dict[int, dict[int, object]] = {}
        self._lengths: list[int] = []

    def insert(self, network: int, length: int, value: object) -> None:
        table = self._by_length.get(length)
        if table is None:
            table = self._by_length[length] = {}
            self._lengths = sorted(self._by_length, reverse=True)
        table[network >> (32 - length)] = value

    def lookup(self, address: int) -> object | None:
        by_length = self._by_length
        for length in self._lengths:
            found = by_length[length].get(address >> (32 - length))
            if found is not None:
                return found
        return None


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def per_op_ns(function: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1e9 / count


def random_prefixes(rng: random.Random, count: int) -> list[EidPrefix]:
    seen: set[tuple[int, int]] = set()
    prefixes: list[EidPrefix] = []
    while len(prefixes) < count:
        length = rng.choice((16, 20, 22, 24, 24, 24, 24, 28, 32))
        value = rng.getrandbits(31) >> (32 - length) << (32 - length)
        if (value, length) in seen:
            continue
        seen.add((value, length))
        prefixes.append(EidPrefix(0, IPv4Network((value, length))))
    return prefixes


Row = Callable[[str, str], None]
T = TypeVar("T")


def _each(function: Callable[[T], object], items: list[T]) -> None:
    for item in items:
        function(item)


def bench_tables(prefixes: list[EidPrefix], probes: Probes, row: Row) -> None:
    table: PrefixTable[int] = PrefixTable()
    start = time.perf_counter()
    for index, prefix in enumerate(prefixes):
        table[prefix] = index
    row("PrefixTable insert (pytricia)", f"{time.perf_counter() - start:.2f} s")
    assert all(table.lookup(0, a) is not None for a in probes.hits[:1000])
    assert all(table.lookup(0, a) is None for a in probes.misses[:1000])
    count = len(probes.hits)
    lookup, lookup_v4 = table.lookup, table.lookup_v4
    ns = per_op_ns(lambda: [lookup(0, a) for a in probes.hits], count)
    row("PrefixTable.lookup(iid, IPv4Address) hit", f"{ns:.0f} ns/op")
    ns = per_op_ns(lambda: [lookup(0, a) for a in probes.misses], count)
    row("PrefixTable.lookup(iid, IPv4Address) miss", f"{ns:.0f} ns/op")
    ns = per_op_ns(lambda: [lookup_v4(0, v) for v in probes.hit_ints], count)
    row("PrefixTable.lookup_v4(iid, int) hit", f"{ns:.0f} ns/op")
    ns = per_op_ns(lambda: [lookup_v4(0, v) for v in probes.miss_ints], count)
    row("PrefixTable.lookup_v4(iid, int) miss", f"{ns:.0f} ns/op")
    probes.uncovered = [a for a in probes.near if table.lookup(0, a) is None]

    dict_table = DictPerLength()
    start = time.perf_counter()
    for index, prefix in enumerate(prefixes):
        dict_table.insert(int(prefix.network.network_address), prefix.length, index)
    row("dict-per-length insert", f"{time.perf_counter() - start:.2f} s")
    dict_lookup = dict_table.lookup
    ns = per_op_ns(lambda: [dict_lookup(v) for v in probes.hit_ints], count)
    row("dict-per-length lookup(int) hit", f"{ns:.0f} ns/op")
    ns = per_op_ns(lambda: [dict_lookup(v) for v in probes.miss_ints], count)
    row("dict-per-length lookup(int) miss", f"{ns:.0f} ns/op")


def bench_negative(prefixes: list[EidPrefix], probes: Probes, row: Row) -> None:
    finder = NegativePrefixFinder()
    start = time.perf_counter()
    finder.update(prefixes)
    finder.find_length(0, 4, 0)  # the lazy sort happens here
    row("NegativePrefixFinder build (append + sort)", f"{time.perf_counter() - start:.2f} s")
    # Negative prefixes are only asked for EIDs that no site covers.
    find, find_length = finder.find, finder.find_length
    for name, eids in (("far", probes.misses), ("near sites", probes.uncovered)):
        ints = [int(a) for a in eids]
        ns = per_op_ns(partial(_each, lambda a: find(0, a), eids), len(eids))
        row(f"negative find -> EidPrefix, EIDs {name} ({len(eids):,})", f"{ns:.0f} ns/op")
        ns = per_op_ns(partial(_each, lambda v: find_length(0, 4, v), ints), len(ints))
        row(f"negative find_length(int), EIDs {name}", f"{ns:.0f} ns/op")


def bench_map_cache(prefixes: list[EidPrefix], probes: Probes, row: Row) -> None:
    """The ITR's map-cache (XtrCache): records in, integer-address lookups as the data path does."""
    cache = XtrCache(limit=len(prefixes))
    locators = (Locator(address=IPv4Address("10.0.2.2")),)
    records = [
        MappingRecord(
            eid=p.network.network_address, eid_mask_len=p.length, ttl=1440, locators=locators
        )
        for p in prefixes
    ]
    start = time.perf_counter()
    for record in records:
        cache.insert(record, 0.0, "bench")
    row("XtrCache insert", f"{time.perf_counter() - start:.2f} s")
    lookup, count = cache.lookup, len(probes.hits)
    ns = per_op_ns(lambda: [lookup(0, 4, a, 1.0) for a in probes.hit_ints], count)
    row("XtrCache.lookup hit (LRU touch)", f"{ns:.0f} ns/op")
    ns = per_op_ns(lambda: [lookup(0, 4, a, 1.0) for a in probes.miss_ints], count)
    row("XtrCache.lookup miss", f"{ns:.0f} ns/op")
    start = time.perf_counter()
    expired = cache.expire(1440 * 60.0).removed
    row(f"XtrCache.expire ({len(expired):,} entries)", f"{time.perf_counter() - start:.2f} s")


@dataclass
class Probes:
    hits: list[IPv4Address]
    misses: list[IPv4Address]
    near: list[IPv4Address]
    uncovered: list[IPv4Address] = field(default_factory=list)

    hit_ints: list[int] = field(default_factory=list)
    miss_ints: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.hit_ints = [int(a) for a in self.hits]
        self.miss_ints = [int(a) for a in self.misses]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--probes", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    rows: list[tuple[str, str, float]] = []

    def row(what: str, value: str) -> None:
        rows.append((what, value, rss_mib()))
        print(f"  {what:<54} {value:>14}   rss {rss_mib():8.0f} MiB", flush=True)

    print(f"mapping benchmark: {args.entries:,} random IPv4 prefixes, {args.probes:,} probes")
    row("baseline (interpreter + imports)", "")
    start = time.perf_counter()
    prefixes = random_prefixes(rng, args.entries)
    row("build EidPrefix keys", f"{time.perf_counter() - start:.2f} s")
    sample = rng.sample(prefixes, min(args.probes, len(prefixes)))
    probes = Probes(
        hits=[
            IPv4Address(int(p.network.network_address) + rng.getrandbits(32 - p.length))
            for p in sample
        ],
        misses=[IPv4Address(0x80000000 | rng.getrandbits(31)) for _ in sample],
        near=[IPv4Address(rng.getrandbits(31)) for _ in sample],
    )
    bench_tables(prefixes, probes, row)
    bench_negative(prefixes, probes, row)
    bench_map_cache(prefixes, probes, row)

    print()
    print(f"| {'measure':<54} | {'result':>14} | {'peak RSS MiB':>12} |")
    print(f"|{'-' * 56}|{'-' * 16}|{'-' * 14}|")
    for what, value, rss in rows:
        print(f"| {what:<54} | {value:>14} | {rss:12.0f} |")


if __name__ == "__main__":
    main()
