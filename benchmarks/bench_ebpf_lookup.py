"""The eBPF encapsulation program at scale (root): ns per packet by BPF_PROG_TEST_RUN.

    .venv/bin/python benchmarks/bench_ebpf_lookup.py [--entries 1000000] [--repeat 1000000]

Fills the BPF map-cache (LPM trie keyed by instance-id + prefix) with N random
IPv4 prefixes (/16 to /28 in 0.0.0.0/1; 128.0.0.0/1 stays miss space), then
times the program in the kernel (the duration BPF_PROG_TEST_RUN reports).
"miss": two LPM lookups (the source among the local EID prefixes, the
destination in the map-cache), the packet left for the TUN device; the kernel
runs it `repeat` times and averages. "hit": the flow hash, the same two
lookups, the RLOC choice and the outer headers written; a test run keeps
its packet across repeats (the second run would see the outer packet), so
each is one run and the median of `--hits` runs is shown, which includes
the test run's own cost: the floor, a packet the program passes at once,
is shown too. Prints a table; gates nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from ipaddress import IPv4Address, ip_network

from lispstack.core.encapsulation import RlocChoice
from lispstack.core.forwarding import Step
from lispstack.io import ebpf_layout as layout
from lispstack.io import libbpf
from lispstack.wire.ip_udp import PROTO_UDP, ipv4_header, udp_segment

ETHERNET = bytes(12) + b"\x08\x00"
SOURCE = IPv4Address("127.0.0.1")
"""A local EID source: BPF_PROG_TEST_RUN runs on loopback (ifindex 1), instance-id 0."""


def packet(destination: IPv4Address) -> bytes:
    segment = udp_segment(SOURCE, destination, 40000, 9, bytes(18))
    return ETHERNET + ipv4_header(SOURCE, destination, PROTO_UDP, len(segment)) + segment


def median_single_run(program: int, data: bytes, runs: int, out_length: int) -> float:
    durations = []
    for _ in range(runs):
        run = libbpf.test_run(program, data)
        assert len(run.data) == out_length
        durations.append(run.duration_ns)
    return statistics.median(durations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1_000_000)
    parser.add_argument("--hits", type=int, default=20_001)
    args = parser.parse_args()
    obj = libbpf.BpfObject(layout.OBJECT, {"lisp_map_cache": args.entries + 1})
    try:
        rlocs = {4: IPv4Address("192.0.2.1")}
        libbpf.update(obj.map_fd("lisp_config"), bytes(4), layout.config_value(rlocs, False))
        libbpf.update(obj.map_fd("lisp_tun_iids"), (1).to_bytes(4, "little"), bytes(4))
        for key, value in layout.local_eid_entries(
            [(0, ip_network("127.0.0.0/8"), layout.EID_SOURCE)], {0: 1}
        ).items():
            libbpf.update(obj.map_fd("lisp_local_eids"), key, value)
        value = layout.map_cache_value(
            Step.ENCAPSULATE,
            (
                RlocChoice(0, IPv4Address("198.51.100.1"), 1, 50),
                RlocChoice(1, IPv4Address("198.51.100.2"), 1, 50),
            ),
            3,
        )
        map_cache = obj.map_fd("lisp_map_cache")
        rng = random.Random(1)
        started = time.perf_counter()
        last = 0
        for _ in range(args.entries):
            length = rng.randint(16, 28)
            network = rng.getrandbits(length - 1) << (32 - length)  # in 0.0.0.0/1
            libbpf.update(map_cache, layout.lpm_key(0, 4, network, length), value)
            last = network
        filled = time.perf_counter() - started
        program = obj.program_fd("lisp_encap_eth")
        print(f"map-cache entries      {args.entries:>12,}  (filled in {filled:.1f} s)")
        miss_packet = packet(IPv4Address("200.0.0.1"))
        miss = libbpf.test_run(program, miss_packet, repeat=args.repeat)
        assert miss.data == miss_packet
        print(f"miss ns/packet         {miss.duration_ns:>12}  (mean of {args.repeat:,} runs)")
        hit_packet = packet(IPv4Address(last + 1))
        hit = median_single_run(program, hit_packet, args.hits, len(hit_packet) + 36)
        print(f"hit ns/packet          {hit:>12.0f}  (median of {args.hits:,} single runs)")
        arp = ETHERNET[:12] + b"\x08\x06" + bytes(28)  # not IP: the program returns at once
        floor = median_single_run(program, arp, args.hits, len(arp))
        print(f"single-run floor ns    {floor:>12.0f}  (the same for a packet passed at once)")
    finally:
        obj.close()


if __name__ == "__main__":
    main()
