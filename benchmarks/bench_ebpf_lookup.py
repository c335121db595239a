"""The eBPF encapsulation program at scale (root): ns per packet by BPF_PROG_TEST_RUN.

    .venv/bin/python benchmarks/bench_ebpf_lookup.py [--entries 1000000] [--repeat 1000000]
        [--families 4 6]

For each IP version, fills the BPF map-cache (LPM trie keyed by instance-id +
prefix) with N random prefixes: IPv4 /16 to /28 in 0.0.0.0/1 (128.0.0.0/1
stays miss space), IPv6 /32 to /64 in 2000::/4 (3000::/4 stays miss space);
then times the program in the kernel (the duration BPF_PROG_TEST_RUN
reports). "miss": two LPM lookups (the source among the local EID prefixes,
the destination in the map-cache), the packet left for the TUN device; the
kernel runs it `repeat` times and averages. "hit": the flow hash, the same
two lookups, the RLOC choice and the outer headers written (IPv4 in IPv4;
IPv6 in IPv6, with its UDP checksum summed over the packet); a test run
keeps its packet across repeats (the second run would see the outer
packet), so each is one run and the median of `--hits` runs is shown, which
includes the test run's own cost: the floor, a packet the program passes at
once, is shown too. Prints a table; gates nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

from lispstack.core.encapsulation import RlocChoice
from lispstack.core.forwarding import Step
from lispstack.io import ebpf_layout as layout
from lispstack.io import libbpf
from lispstack.wire.ip_udp import PROTO_UDP, build_ipv6, build_udp, ipv4_header, udp_segment

ETHERNET = {4: bytes(12) + b"\x08\x00", 6: bytes(12) + b"\x86\xdd"}
SOURCE = {4: IPv4Address("127.0.0.1"), 6: IPv6Address("::1")}
"""A local EID source: BPF_PROG_TEST_RUN runs on loopback (ifindex 1), instance-id 0."""
OUTER = {4: 36, 6: 56}
MISS = {4: IPv4Address("200.0.0.1"), 6: IPv6Address("3000::1")}
RLOCS = {
    4: (IPv4Address("198.51.100.1"), IPv4Address("198.51.100.2")),
    6: (IPv6Address("2001:db8::1"), IPv6Address("2001:db8::2")),
}


def packet(destination: IPv4Address | IPv6Address) -> bytes:
    version = destination.version
    if version == 6:
        src = str(SOURCE[6])
        inner = build_ipv6(
            src, str(destination), PROTO_UDP, build_udp(src, str(destination), 40000, 9, bytes(18))
        )
        return ETHERNET[6] + inner
    source = SOURCE[4]
    assert isinstance(source, IPv4Address) and isinstance(destination, IPv4Address)
    segment = udp_segment(source, destination, 40000, 9, bytes(18))
    return ETHERNET[4] + ipv4_header(source, destination, PROTO_UDP, len(segment)) + segment


def median_single_run(program: int, data: bytes, runs: int, out_length: int) -> float:
    durations = []
    for _ in range(runs):
        run = libbpf.test_run(program, data)
        assert len(run.data) == out_length
        durations.append(run.duration_ns)
    return statistics.median(durations)


def random_prefix(rng: random.Random, version: int) -> tuple[int, int]:
    """(network, length): IPv4 in 0.0.0.0/1, IPv6 in 2000::/4."""
    if version == 4:
        length = rng.randint(16, 28)
        return rng.getrandbits(length - 1) << (32 - length), length
    length = rng.randint(32, 64)
    return ((0x2 << (length - 4)) | rng.getrandbits(length - 4)) << (128 - length), length


def measure(version: int, args: argparse.Namespace) -> None:
    obj = libbpf.BpfObject(layout.OBJECT, {"lisp_map_cache": args.entries + 1})
    try:
        libbpf.update(
            obj.map_fd("lisp_config"),
            bytes(4),
            layout.config_value({version: ip_address(RLOCS[version][0])}, False),
        )
        libbpf.update(obj.map_fd("lisp_tun_iids"), (1).to_bytes(4, "little"), bytes(4))
        local = ip_network(f"{SOURCE[version]}/{8 if version == 4 else 128}", strict=False)
        for key, value in layout.local_eid_entries([(0, local, layout.EID_SOURCE)], {0: 1}).items():
            libbpf.update(obj.map_fd("lisp_local_eids"), key, value)
        rlocs = tuple(RlocChoice(i, a, 1, 50) for i, a in enumerate(RLOCS[version]))
        value = layout.map_cache_value(Step.ENCAPSULATE, rlocs, 3)
        map_cache = obj.map_fd("lisp_map_cache")
        rng = random.Random(1)
        started = time.perf_counter()
        last = 0
        for _ in range(args.entries):
            network, length = random_prefix(rng, version)
            libbpf.update(map_cache, layout.lpm_key(0, version, network, length), value)
            last = network
        filled = time.perf_counter() - started
        program = obj.program_fd("lisp_encap_eth")
        print(f"IPv{version} map-cache entries {args.entries:>12,}  (filled in {filled:.1f} s)")
        miss_packet = packet(MISS[version])
        miss = libbpf.test_run(program, miss_packet, repeat=args.repeat)
        assert miss.data == miss_packet
        print(
            f"IPv{version} miss ns/packet    {miss.duration_ns:>12}  (mean of {args.repeat:,} runs)"
        )
        hit_packet = packet(ip_address(last + 1) if version == 4 else IPv6Address(last + 1))
        hit = median_single_run(program, hit_packet, args.hits, len(hit_packet) + OUTER[version])
        print(f"IPv{version} hit ns/packet     {hit:>12.0f}  (median of {args.hits:,} single runs)")
        arp = ETHERNET[4][:12] + b"\x08\x06" + bytes(28)  # not IP: the program returns at once
        floor = median_single_run(program, arp, args.hits, len(arp))
        print(f"single-run floor ns    {floor:>12.0f}  (the same for a packet passed at once)")
    finally:
        obj.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1_000_000)
    parser.add_argument("--hits", type=int, default=20_001)
    parser.add_argument("--families", type=int, nargs="+", choices=(4, 6), default=[4, 6])
    args = parser.parse_args()
    for version in args.families:
        measure(version, args)


if __name__ == "__main__":
    main()
