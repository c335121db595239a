"""RLOC probing cost: an ITR with 10,000 cached mappings in use, on a simulated clock.

.venv/bin/python benchmarks/bench_rloc_probe.py [--mappings N] [--interval S] [--rate R]
    [--seconds T] [--answer-fraction F]

The sans-I/O ITR caches N mappings (two RLOCs each, all distinct: 2N RLOCs to
probe), every one used every simulated second, and its timer is fired at each
deadline it asks for over T simulated seconds. Probes are answered at once
(a fraction F of them; the rest are missed). Printed: probes sent, the most
sent in any one-second window and the smallest gap between two (against the
configured rate), the RLOCs marked unreachable, the size of probing's tables,
and the CPU time per probe. Not a test: it prints numbers and gates nothing.
"""

from __future__ import annotations

import argparse
import random
import time
from bisect import bisect_left
from ipaddress import IPv4Address
from itertools import pairwise

from lispstack.config import parse_config
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.events import DatagramReceived, Endpoint, SendDatagram
from lispstack.core.itr import Itr
from lispstack.core.xtr import build_xtr_roles
from lispstack.wire.control import decode_control
from lispstack.wire.ecm import Ecm
from lispstack.wire.ip_udp import build_ipv4
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import Locator, MappingRecord

CONFIG = """[node]
name = "itr"
roles = ["itr"]
[itr]
map-cache-limit = 100000
rloc-probe-interval = {interval}
rloc-probe-rate = {rate}
[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{{ address = "10.0.1.1", priority = 1, weight = 100 }}]
[[map-resolvers]]
address = "10.0.1.254"
"""
SOURCE = IPv4Address("192.168.1.1")
BASE = int(IPv4Address("20.0.0.0"))
RLOCS = int(IPv4Address("100.64.0.0"))


def build(interval: int, rate: int) -> Itr:
    counters = Counters()
    config = parse_config(CONFIG.format(interval=interval, rate=rate), "bench.toml")
    (itr,) = build_xtr_roles(config, counters, DropRecorder(counters), random.Random(1))
    assert isinstance(itr, Itr)
    return itr


def received(payload: bytes, source: IPv4Address) -> DatagramReceived:
    return DatagramReceived(
        payload, Endpoint(source, 4342), Endpoint(IPv4Address("10.0.1.1"), 4342)
    )


def populate(itr: Itr, mappings: int) -> float:
    """Cache `mappings` /24s (two RLOCs each) as answers to misses, 1,000 per second."""
    now = 0.0
    for i in range(mappings):
        now = i / 1000
        network = IPv4Address(BASE + (i << 8))
        packet = build_ipv4(SOURCE, network + 1, 1, b"\x08\x00ping")
        sent = [a for a in itr.handle_tun(packet, now) if isinstance(a, SendDatagram)]
        ecm = decode_control(sent[0].payload)
        assert isinstance(ecm, Ecm) and isinstance(ecm.message, MapRequest)
        record = MappingRecord(
            eid=network,
            eid_mask_len=24,
            ttl=1440,
            locators=(
                Locator(address=IPv4Address(RLOCS + 2 * i), priority=1),
                Locator(address=IPv4Address(RLOCS + 2 * i + 1), priority=2),
            ),
        )
        reply = MapReply(nonce=ecm.message.nonce, records=(record,))
        itr.handle_control(reply, received(reply.encode(), IPv4Address("10.0.1.254")), now)
    return now


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mappings", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--answer-fraction", type=float, default=1.0)
    args = parser.parse_args()
    itr = build(args.interval, args.rate)
    now = populate(itr, args.mappings)
    entries = itr.cache.entries()
    rng = random.Random(2)
    times: list[float] = []
    end = now + args.seconds
    next_use = now
    cpu = 0.0
    while True:
        deadline = itr.next_deadline()
        if deadline is None or deadline >= end:
            break
        now = max(now, deadline)
        if now >= next_use:  # every mapping in use, every second
            for entry in entries:
                entry.last_used = now
            next_use = now + 1.0
        started = time.perf_counter()
        actions = itr.on_timer(now)
        for action in actions:
            if not isinstance(action, SendDatagram):
                continue
            times.append(now)
            if rng.random() < args.answer_fraction:
                probe = decode_control(action.payload)
                assert isinstance(probe, MapRequest)
                reply = MapReply(nonce=probe.nonce, records=(), probe=True)
                source = action.destination.address
                itr.handle_control(reply, received(b"", source), now + 0.001)  # type: ignore[arg-type]
        cpu += time.perf_counter() - started
    busiest = max((bisect_left(times, t + 1.0 - 1e-9) - i for i, t in enumerate(times)), default=0)
    gaps = [b - a for a, b in pairwise(times)]
    print(
        f"mappings {args.mappings}, RLOCs {2 * args.mappings}, interval {args.interval} s, "
        f"rate {args.rate}/s, {args.seconds:.0f} simulated s, answered {args.answer_fraction:.0%}"
    )
    print(f"probes sent            {len(times)}")
    print(f"mean probes/s          {len(times) / args.seconds:.1f}")
    print(f"most in any 1 s        {busiest}")
    print(f"smallest gap           {min(gaps, default=0.0) * 1000:.3f} ms")
    print(f"unreachable marked     {itr.counters.get('probe.rloc-unreachable')}")
    print(f"prober tables          {itr.prober.sizes()}")
    print(f"CPU per probe (timer + answer) {cpu / max(1, len(times)) * 1e6:.1f} us")


if __name__ == "__main__":
    main()
