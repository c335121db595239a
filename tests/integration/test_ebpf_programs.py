"""The eBPF programs under the kernel verifier and BPF_PROG_TEST_RUN (root; no namespaces).

Loading the object runs the verifier on every program. The encapsulation
program is fed real packets and must write what the Python ITR sends for the
same flow, byte for byte but for the 24-bit nonce: same RLOC, same UDP
source port (the same CRC-32 flow hash), same LISP header. With an IPv6 outer
header the UDP checksum covers the nonce: the Python packet is built with the
nonce the kernel drew, and then every byte must be equal. So must it for a
Proxy-ITR's packets and an ITR's packets to its PETRs, and the decapsulation
program must hand on what the Python PETR forwards.
"""

from __future__ import annotations

import ctypes
import os
import random
import sys
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path

import pytest

from helpers.tshark import check_pcap
from helpers.xtr_fixtures import build_xtr, lisp1_config
from lispstack.capture import write_pcap
from lispstack.config import parse_config
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.encapsulation import (
    RlocChoice,
    choose_rloc,
    data_header,
    flow_hash,
    outer_packet,
    source_port,
)
from lispstack.core.events import DatagramReceived, Endpoint, ForwardNatively, SendDatagram
from lispstack.core.forwarding import Step
from lispstack.core.itr import Itr
from lispstack.core.petr import Petr
from lispstack.core.xtr import build_xtr_roles
from lispstack.io import ebpf_layout as layout
from lispstack.io import libbpf
from lispstack.io.ebpf_engine import MapCacheSync
from lispstack.io.ebpf_used import UsedSlots
from lispstack.wire.address import with_instance_id
from lispstack.wire.ip_udp import (
    PROTO_UDP,
    build_ipv6,
    build_udp,
    internet_checksum,
    ipv4_header,
    udp_segment,
)
from lispstack.wire.records import Locator, MappingRecord, MapReplyAction

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not layout.OBJECT.exists(), reason="needs root and the compiled object"
)

TC_ACT_OK, TC_ACT_SHOT = 0, 2
OUR_RLOC = IPv4Address("192.0.2.1")
SECOND_RLOC = IPv4Address("203.0.113.1")
"""A multihomed ETR's other RLOC: decapsulated too (outer headers leave from OUR_RLOC)."""
OUR_RLOC6 = IPv6Address("2001:db8:ff::1")
ETHERNET = bytes(12) + b"\x08\x00"
ETHERNET6 = bytes(12) + b"\x86\xdd"
LOOPBACK = 1
"""BPF_PROG_TEST_RUN runs the packet as if on the loopback device."""
RLOCS = (
    RlocChoice(0, IPv4Address("198.51.100.1"), 1, 30),
    RlocChoice(1, IPv4Address("198.51.100.2"), 1, 70),
    RlocChoice(2, IPv4Address("198.51.100.3"), 2, 100),
)
RLOCS6 = (
    RlocChoice(0, IPv6Address("2001:db8:100::1"), 1, 30),
    RlocChoice(1, IPv6Address("2001:db8:100::2"), 1, 70),
    RlocChoice(2, IPv6Address("2001:db8:100::3"), 2, 100),
)
PATH_MTU = 1500


class Loaded:
    def __init__(self, obj: libbpf.BpfObject) -> None:
        self.obj = obj
        self.map_cache = obj.map_fd("lisp_map_cache")
        self.counters = obj.map_fd("lisp_counters")
        self.iid_counters = obj.map_fd("lisp_iid_counters")
        self.used = UsedSlots(obj.map_fd("lisp_used"), layout.used_words(100_000))  # as built
        for iid in (0, 100):  # the instance-ids of the node's TUNs, as the engine does
            libbpf.update(self.iid_counters, layout.iid_key(iid), bytes(_iid_size()))
        libbpf.update(
            obj.map_fd("lisp_config"),
            bytes(4),
            layout.config_value({4: OUR_RLOC, 6: OUR_RLOC6}, False, PATH_MTU),
        )
        ours = (OUR_RLOC, SECOND_RLOC, OUR_RLOC6)
        held = {str(rloc) for rloc in ours}
        for version, name in layout.LOCAL_RLOC_MAPS.items():
            for key, value in layout.local_rloc_entries(ours, held, version).items():
                libbpf.update(obj.map_fd(name), key, value)
        for key, value in layout.local_eid_entries(
            [
                (0, ip_network("10.1.0.0/16"), layout.EID_SOURCE | layout.EID_DELIVER),
                (100, ip_network("10.1.0.0/16"), layout.EID_SOURCE | layout.EID_DELIVER),
                (0, ip_network("192.168.1.0/24"), layout.EID_SOURCE),
                (0, ip_network("2001:db8:1::/48"), layout.EID_SOURCE | layout.EID_DELIVER),
                (100, ip_network("2001:db8:1::/48"), layout.EID_SOURCE | layout.EID_DELIVER),
            ],
            {0: 77, 100: 78},
        ).items():
            libbpf.update(obj.map_fd("lisp_local_eids"), key, value)

    def set_iid(self, iid: int) -> None:
        """The instance-id of the device the test run uses (loopback)."""
        fd = self.obj.map_fd("lisp_tun_iids")
        libbpf.update(fd, LOOPBACK.to_bytes(4, "little"), iid.to_bytes(4, "little"))

    def install(self, iid: int, prefix: str, step: Step, rlocs: tuple[RlocChoice, ...]) -> None:
        network = ip_network(prefix)
        key = layout.lpm_key(iid, network.version, int(network.network_address), network.prefixlen)
        libbpf.update(self.map_cache, key, layout.map_cache_value(step, rlocs, 0b011))

    def run(self, program: str, packet: bytes) -> libbpf.TestRun:
        return libbpf.test_run(self.obj.program_fd(program), packet)

    def counter(self, name: str) -> int:
        index = layout.COUNTERS.index(name).to_bytes(4, "little")
        per_cpu = libbpf.lookup(self.counters, index, 8 * libbpf.possible_cpus())
        assert per_cpu is not None
        return layout.counter_total(per_cpu)

    def iid_counts(self, iid: int) -> tuple[int, int] | None:
        """(encapsulated, decapsulated) of `iid`; None when the map has no such entry."""
        per_cpu = libbpf.lookup(self.iid_counters, layout.iid_key(iid), _iid_size())
        return None if per_cpu is None else layout.iid_totals(per_cpu)


def _iid_size() -> int:
    return ctypes.sizeof(layout.IidCounters) * libbpf.possible_cpus()


@pytest.fixture
def loaded() -> Iterator[Loaded]:
    obj = libbpf.BpfObject(layout.OBJECT)  # the verifier checks every program here
    try:
        loaded = Loaded(obj)
        yield loaded
        loaded.used.close()
    finally:
        obj.close()


def _udp(src: str, dst: str, sport: int, payload: bytes = b"lisp" * 4) -> bytes:
    s, d = IPv4Address(src), IPv4Address(dst)
    return ipv4_header(s, d, PROTO_UDP, 8 + len(payload)) + udp_segment(s, d, sport, 9, payload)


def _udp6(src: str, dst: str, sport: int, payload: bytes = b"lisp" * 4) -> bytes:
    return build_ipv6(src, dst, PROTO_UDP, build_udp(src, dst, sport, 9, payload))


def _python_outer(inner: bytes, iid: int, rlocs: tuple[RlocChoice, ...], nonce: int = 0) -> bytes:
    """What the Python ITR sends for `inner`, with `nonce`."""
    hash_value = flow_hash(inner)
    rloc = choose_rloc(rlocs, hash_value, frozenset({4, 6}))
    assert rloc is not None
    action = SendDatagram(
        data_header(nonce, 0b011, iid) + inner,
        Endpoint(rloc.address, 4341),
        source_port(hash_value),
        OUR_RLOC if rloc.address.version == 4 else OUR_RLOC6,
    )
    return outer_packet(action)


def _nonce(outer: bytes) -> int:
    """The nonce of an encapsulated packet (after its IPv4 or IPv6 and UDP headers)."""
    lisp = 28 if outer[0] >> 4 == 4 else 48
    return int.from_bytes(outer[lisp + 1 : lisp + 4], "big")


def _without_nonce(outer: bytes) -> bytes:
    return outer[:29] + bytes(3) + outer[32:]


@pytest.mark.parametrize("iid", [0, 100])
def test_encapsulation_equals_the_python_itr_for_every_flow(loaded: Loaded, iid: int) -> None:
    loaded.set_iid(iid)
    loaded.install(iid, "10.2.0.0/16", Step.ENCAPSULATE, RLOCS)
    chosen = set()
    for port in range(2000, 2200):
        inner = _udp("10.1.0.5", "10.2.3.4", port)
        result = loaded.run("lisp_encap_eth", ETHERNET + inner)
        assert result.retval == TC_ACT_OK
        expected = _python_outer(inner, iid, RLOCS)
        assert _without_nonce(result.data[14:]) == expected
        chosen.add(expected[16:20])
    assert len(chosen) == 2  # weights 30/70 between the two priority-1 RLOCs, never the third
    assert loaded.counter("ebpf.encap.packets") == 200
    assert loaded.iid_counts(iid) == (200, 0)
    assert loaded.counter("ebpf.pitr.packets") == loaded.counter("ebpf.encap.to-petr") == 0


def _flow6(port: int, inner_version: int) -> bytes:
    """Flows of every size from 0 to 1400 bytes of payload: the kernel sums the IPv6 UDP
    checksum 256 bytes at a time, and an odd tail last."""
    payload = bytes(range(256)) * 6
    payload = payload[: port * 7 % 1400]
    if inner_version == 4:
        return _udp("10.1.0.5", "10.2.3.4", port, payload)
    return _udp6("2001:db8:1::5", "2001:db8:2::4", port, payload)


@pytest.mark.parametrize(
    ("inner_version", "rlocs", "iid"),
    [(6, RLOCS, 0), (4, RLOCS6, 100), (6, RLOCS6, 0), (6, RLOCS6, 100)],
    ids=["ipv6-in-ipv4", "ipv4-in-ipv6", "ipv6-in-ipv6", "ipv6-in-ipv6-iid"],
)
def test_ipv6_encapsulation_equals_the_python_itr_for_every_flow(
    loaded: Loaded, inner_version: int, rlocs: tuple[RlocChoice, ...], iid: int
) -> None:
    loaded.set_iid(iid)
    loaded.install(iid, "10.2.0.0/16", Step.ENCAPSULATE, rlocs)
    loaded.install(iid, "2001:db8:2::/48", Step.ENCAPSULATE, rlocs)
    ethernet = ETHERNET if inner_version == 4 else ETHERNET6
    chosen = set()
    for port in range(2000, 2200):
        inner = _flow6(port, inner_version)
        result = loaded.run("lisp_encap_eth", ethernet + inner)
        assert result.retval == TC_ACT_OK
        outer = result.data[14:]
        assert outer == _python_outer(inner, iid, rlocs, _nonce(outer))
        chosen.add(outer[24:40] if outer[0] >> 4 == 6 else outer[16:20])
    assert len(chosen) == 2  # weights 30/70 between the two priority-1 RLOCs
    assert loaded.counter("ebpf.encap.packets") == 200


def test_ipv6_packets_the_program_leaves_to_the_python_itr(loaded: Loaded) -> None:
    """Extension headers, a miss, and a packet that fits an IPv4 outer header but not
    an IPv6 one (the Python ITR answers it with ICMPv6 Packet Too Big)."""
    loaded.set_iid(0)
    loaded.install(0, "2001:db8:2::/48", Step.ENCAPSULATE, RLOCS6)
    loaded.install(0, "2001:db8:3::/48", Step.ENCAPSULATE, RLOCS)
    hop_by_hop = bytearray(_udp6("2001:db8:1::5", "2001:db8:2::4", 5))
    hop_by_hop[6] = 0
    miss = _udp6("2001:db8:1::5", "2001:db8:9::4", 5)
    size = PATH_MTU - 50  # an IPv6 outer header adds 56 bytes, an IPv4 one 36
    big = _udp6("2001:db8:1::5", "2001:db8:2::4", 5, bytes(size - 48))
    for packet in (bytes(hop_by_hop), miss, big):
        result = loaded.run("lisp_encap_eth", ETHERNET6 + packet)
        assert (result.retval, result.data) == (TC_ACT_OK, ETHERNET6 + packet)
    fits_ipv4 = _udp6("2001:db8:1::5", "2001:db8:3::4", 5, bytes(size - 48))
    outer = loaded.run("lisp_encap_eth", ETHERNET6 + fits_ipv4).data[14:]
    assert outer == _python_outer(fits_ipv4, 0, RLOCS, _nonce(outer))
    assert loaded.counter("ebpf.punt.unhandled") == 2
    assert loaded.counter("ebpf.punt.miss") == 1
    assert loaded.counter("ebpf.encap.packets") == 1


def test_an_itr_with_ipv6_rlocs_only_encapsulates_ipv4_too(loaded: Loaded) -> None:
    libbpf.update(
        loaded.obj.map_fd("lisp_config"), bytes(4), layout.config_value({6: OUR_RLOC6}, False)
    )
    loaded.set_iid(0)
    loaded.install(0, "10.2.0.0/16", Step.ENCAPSULATE, RLOCS + RLOCS6)  # the IPv4 ones unusable
    inner = _udp("10.1.0.5", "10.2.3.4", 2000)
    outer = loaded.run("lisp_encap_eth", ETHERNET + inner).data[14:]
    assert outer[0] >> 4 == 6
    assert outer == _python_outer(inner, 0, RLOCS6, _nonce(outer))


def _unwritten_checksum(packet: bytes) -> bytes:
    """`packet` (UDP) as Linux hands it on before the device writes its UDP checksum
    (CHECKSUM_PARTIAL): the field holds the folded pseudo-header sum."""
    l4 = 20 if packet[0] >> 4 == 4 else 40
    length = len(packet) - l4
    if l4 == 20:
        pseudo = packet[12:20] + bytes([0, PROTO_UDP]) + length.to_bytes(2, "big")
    else:
        pseudo = packet[8:40] + length.to_bytes(4, "big") + bytes([0, 0, 0, PROTO_UDP])
    field = 0xFFFF - internet_checksum(pseudo)
    return packet[: l4 + 6] + field.to_bytes(2, "big") + packet[l4 + 8 :]


@pytest.mark.parametrize("inner_version", [4, 6])
def test_an_inner_checksum_not_yet_written_counts_as_written(
    loaded: Loaded, inner_version: int
) -> None:
    """A packet routed from a host whose device offloads checksums: the outer IPv6 UDP
    checksum is the one for the packet as it leaves (inner checksum written by then),
    and the decapsulation program takes it."""
    loaded.set_iid(0)
    loaded.install(0, "10.2.0.0/16", Step.ENCAPSULATE, RLOCS6)
    loaded.install(0, "2001:db8:2::/48", Step.ENCAPSULATE, RLOCS6)
    inner = _flow6(2111, inner_version)
    unwritten = _unwritten_checksum(inner)
    assert unwritten != inner
    ethernet = ETHERNET if inner_version == 4 else ETHERNET6
    sent = loaded.run("lisp_encap_eth", ethernet + unwritten).data[14:]
    python = _python_outer(inner, 0, RLOCS6, _nonce(sent))
    assert sent == python[:56] + unwritten
    # The receiving ETR: the chosen RLOC and the inner destination are its own.
    ours = layout.local_rloc_entries([IPv6Address(sent[24:40])], {str(IPv6Address(sent[24:40]))}, 6)
    for key, value in ours.items():
        libbpf.update(loaded.obj.map_fd("lisp_local_rlocs6"), key, value)
    delivered = [(0, ip_network("10.2.0.0/16"), layout.EID_DELIVER)]
    delivered.append((0, ip_network("2001:db8:2::/48"), layout.EID_DELIVER))
    for key, value in layout.local_eid_entries(delivered, {0: 77}).items():
        libbpf.update(loaded.obj.map_fd("lisp_local_eids"), key, value)
    result = loaded.run("lisp_decap", ETHERNET6 + sent)
    assert (result.retval, result.data) == (TC_ACT_OK, ETHERNET6 + unwritten)
    assert loaded.counter("ebpf.decap.packets") == 1


def test_unreachable_rlocs_leave_the_load_split(loaded: Loaded) -> None:
    loaded.set_iid(0)
    down = (RLOCS[0], RlocChoice(1, RLOCS[1].address, 1, 70, reachable=False), RLOCS[2])
    loaded.install(0, "10.2.0.0/16", Step.ENCAPSULATE, down)
    for port in range(3000, 3050):
        inner = _udp("10.1.0.5", "10.2.3.4", port)
        result = loaded.run("lisp_encap_eth", ETHERNET + inner)
        assert result.data[14 + 16 : 14 + 20] == RLOCS[0].address.packed
        assert _without_nonce(result.data[14:]) == _python_outer(inner, 0, down)


def test_what_the_program_leaves_to_the_python_itr(loaded: Loaded) -> None:
    loaded.set_iid(0)
    loaded.install(0, "10.3.0.0/16", Step.MAP_REQUEST, ())
    loaded.install(0, "10.2.0.0/16", Step.ENCAPSULATE, RLOCS)
    miss = ETHERNET + _udp("10.1.0.5", "10.9.0.1", 5)
    entry = ETHERNET + _udp("10.1.0.5", "10.3.0.1", 5)
    not_eid = ETHERNET + _udp("172.16.0.1", "10.2.0.1", 5)
    fragment = bytearray(ETHERNET + _udp("10.1.0.5", "10.2.0.1", 5))
    fragment[14 + 6] |= 0x20  # more fragments
    for packet in (miss, entry, not_eid, bytes(fragment)):
        result = loaded.run("lisp_encap_eth", packet)
        assert (result.retval, result.data) == (TC_ACT_OK, packet)  # untouched, to the TUN
    assert loaded.counter("ebpf.punt.miss") == 1
    assert loaded.counter("ebpf.punt.entry") == 1
    assert loaded.counter("ebpf.punt.unhandled") == 2
    assert loaded.counter("ebpf.encap.packets") == 0


def test_drop_action_drops_and_counts(loaded: Loaded) -> None:
    loaded.set_iid(0)
    loaded.install(0, "10.4.0.0/16", Step.DROP, ())
    result = loaded.run("lisp_encap_eth", ETHERNET + _udp("10.1.0.5", "10.4.0.1", 5))
    assert result.retval == TC_ACT_SHOT
    assert loaded.counter("ebpf.drop.map-cache-drop") == 1


@pytest.mark.parametrize(("iid", "rloc"), [(0, OUR_RLOC), (100, OUR_RLOC), (0, SECOND_RLOC)])
def test_decapsulation_strips_the_outer_headers_of_packets_to_local_eids(
    loaded: Loaded, iid: int, rloc: IPv4Address
) -> None:
    inner = _udp("10.2.3.4", "10.1.0.5", 4000)
    outer = _python_outer(_udp("10.2.3.4", "10.1.0.5", 4000), iid, (RlocChoice(0, rloc, 1, 1),))
    assert outer[16:20] == rloc.packed
    result = loaded.run("lisp_decap", ETHERNET + outer)
    assert (result.retval, result.data) == (TC_ACT_OK, ETHERNET + inner)
    assert loaded.counter("ebpf.decap.packets") == 1
    assert loaded.iid_counts(iid) == (0, 1)


@pytest.mark.parametrize("iid", [0, 100])
@pytest.mark.parametrize(
    ("inner", "rloc"),
    [
        (_udp("10.2.3.4", "10.1.0.5", 4000, bytes(301)), OUR_RLOC6),
        (_udp6("2001:db8:2::4", "2001:db8:1::5", 4000, bytes(range(255))), OUR_RLOC6),
        (_udp6("2001:db8:2::4", "2001:db8:1::5", 4000), OUR_RLOC),
    ],
    ids=["ipv4-in-ipv6", "ipv6-in-ipv6", "ipv6-in-ipv4"],
)
def test_decapsulation_of_ipv6(
    loaded: Loaded, inner: bytes, rloc: IPv4Address | IPv6Address, iid: int
) -> None:
    ethernet = ETHERNET if rloc.version == 4 else ETHERNET6
    outer = _python_outer(inner, iid, (RlocChoice(0, rloc, 1, 1),), nonce=0xABCDEF)
    result = loaded.run("lisp_decap", ethernet + outer)
    assert (result.retval, result.data) == (TC_ACT_OK, ethernet + inner)
    assert loaded.counter("ebpf.decap.packets") == 1


def test_ipv6_decapsulation_leaves_the_rest_to_the_stack(loaded: Loaded) -> None:
    """A wrong or zero UDP checksum, an address that is not a local RLOC, a destination
    that is not a local EID: up the stack untouched (Linux drops the first two)."""
    inner = _udp6("2001:db8:2::4", "2001:db8:1::5", 4000)
    good = _python_outer(inner, 0, (RlocChoice(0, OUR_RLOC6, 1, 1),))
    corrupted = bytearray(good)
    corrupted[-1] ^= 1
    zero = bytearray(good)
    zero[46:48] = bytes(2)
    not_ours = _python_outer(inner, 0, (RlocChoice(0, IPv6Address("2001:db8:ff::9"), 1, 1),))
    not_local = _python_outer(
        _udp6("2001:db8:2::4", "2001:db8:9::5", 4000), 0, (RlocChoice(0, OUR_RLOC6, 1, 1),)
    )
    for packet in (bytes(corrupted), bytes(zero), not_ours, not_local):
        result = loaded.run("lisp_decap", ETHERNET6 + packet)
        assert (result.retval, result.data) == (TC_ACT_OK, ETHERNET6 + packet)
    assert loaded.counter("ebpf.decap.packets") == 0
    assert loaded.counter("ebpf.decap.passed") == 3


def test_decapsulation_takes_an_rloc_only_while_it_is_in_the_map(loaded: Loaded) -> None:
    """A reload removing the second RLOC: packets to it go up the stack untouched."""
    packet = ETHERNET + _python_outer(
        _udp("10.2.3.4", "10.1.0.5", 4000), 0, (RlocChoice(0, SECOND_RLOC, 1, 1),)
    )
    libbpf.delete(loaded.obj.map_fd("lisp_local_rlocs"), SECOND_RLOC.packed)
    result = loaded.run("lisp_decap", packet)
    assert (result.retval, result.data) == (TC_ACT_OK, packet)
    assert loaded.counter("ebpf.decap.packets") == 0


def test_decapsulation_leaves_the_rest_to_the_stack(loaded: Loaded) -> None:
    our = (RlocChoice(0, OUR_RLOC, 1, 1),)
    not_local = ETHERNET + _python_outer(_udp("10.2.3.4", "10.9.0.5", 4000), 0, our)
    other_iid = ETHERNET + _python_outer(_udp("10.2.3.4", "10.1.0.5", 4000), 5, our)
    not_ours = ETHERNET + _python_outer(  # to an address that is not a local RLOC
        _udp("10.2.3.4", "10.1.0.5", 4000), 0, (RlocChoice(0, IPv4Address("192.0.2.9"), 1, 1),)
    )
    plain = ETHERNET + _udp("10.2.3.4", "10.1.0.5", 4341)
    for packet in (not_local, other_iid, not_ours, plain):
        result = loaded.run("lisp_decap", packet)
        assert (result.retval, result.data) == (TC_ACT_OK, packet)
    assert loaded.counter("ebpf.decap.packets") == 0
    assert loaded.counter("ebpf.decap.passed") == 2


def test_wireshark_reads_the_encapsulated_packets(loaded: Loaded, tmp_path: Path) -> None:
    loaded.set_iid(100)
    loaded.install(100, "10.2.0.0/16", Step.ENCAPSULATE, RLOCS)
    inner = _udp("10.1.0.5", "10.2.3.4", 2000)
    outer = loaded.run("lisp_encap_eth", ETHERNET + inner).data[14:]
    write_pcap(tmp_path / "ebpf.pcap", [(outer, 0.0)])
    (frame,) = check_pcap(tmp_path / "ebpf.pcap", check_checksums=True)
    assert frame.clean, frame.problems()
    assert frame.value("lisp-data.iid") == "100"
    assert frame.protocols.count("ip") == 2, frame.protocols  # the inner packet too


def test_wireshark_reads_the_ipv6_encapsulated_packets(loaded: Loaded, tmp_path: Path) -> None:
    """Every family combination, with tshark checking the UDP checksums."""
    loaded.set_iid(0)
    loaded.install(0, "10.2.0.0/16", Step.ENCAPSULATE, RLOCS6)
    loaded.install(0, "2001:db8:2::/48", Step.ENCAPSULATE, RLOCS6)
    loaded.install(0, "2001:db8:3::/48", Step.ENCAPSULATE, RLOCS)
    inners = [
        (ETHERNET, _udp("10.1.0.5", "10.2.3.4", 2000, bytes(333))),
        (ETHERNET6, _udp6("2001:db8:1::5", "2001:db8:2::4", 2000, bytes(range(255)) * 2)),
        (ETHERNET6, _udp6("2001:db8:1::5", "2001:db8:3::4", 2000)),
    ]
    outers = [loaded.run("lisp_encap_eth", eth + inner).data[14:] for eth, inner in inners]
    write_pcap(tmp_path / "ebpf6.pcap", [(outer, 0.0) for outer in outers])
    frames = check_pcap(tmp_path / "ebpf6.pcap", check_checksums=True)
    families = (["ipv6", "ip"], ["ipv6", "ipv6"], ["ip", "ipv6"])
    for frame, expected in zip(frames, families, strict=True):
        assert frame.clean, frame.problems()
        assert [p for p in frame.protocols if p in ("ip", "ipv6")] == expected, frame.protocols


def _mapping(prefix: str, *rlocs: str, ttl: int = 1) -> MappingRecord:
    network = ip_network(prefix)
    return MappingRecord(
        eid=with_instance_id(0, network.network_address),
        eid_mask_len=network.prefixlen,
        ttl=ttl,
        authoritative=True,
        locators=tuple(Locator(address=ip_address(r)) for r in rlocs),
    )


def test_the_bpf_map_cache_follows_install_replacement_and_expiry(loaded: Loaded) -> None:
    """A replaced mapping redirects the flow, an expired one sends it back to the ITR, at once."""
    loaded.set_iid(0)
    _, itr, _ = build_xtr(lisp1_config())
    follower = MapCacheSync(loaded.map_cache, loaded.used)
    follower.follow(itr)
    packet = ETHERNET + _udp("192.168.1.1", "192.168.2.1", 5000)

    def outer_destination() -> str | None:
        result = loaded.run("lisp_encap_eth", packet)
        return None if result.data == packet else str(IPv4Address(result.data[30:34]))

    assert outer_destination() is None  # a miss: the TUN path
    itr.cache.insert(_mapping("192.168.2.0/24", "10.0.2.2"), 0.0, "10.0.1.254")
    follower.sync()
    assert follower.take_used() == []
    assert outer_destination() == "10.0.2.2"
    assert follower.take_used() == [(0, 4, int(IPv4Address("192.168.2.0")), 24)]
    assert follower.take_used() == []  # cleared: it tells each use once
    itr.cache.insert(_mapping("192.168.2.0/24", "10.0.2.3"), 1.0, "10.0.1.254")
    follower.sync()
    assert outer_destination() == "10.0.2.3"
    itr.on_timer(1.0 + 61.0)  # the TTL (1 minute) ran out
    follower.sync()
    assert outer_destination() is None
    assert len(itr.cache) == 0


def test_the_sweep_tells_which_entries_the_program_used(loaded: Loaded) -> None:
    """Each encapsulating entry has its own used byte; a freed one starts clean."""
    loaded.set_iid(0)
    _, itr, _ = build_xtr(lisp1_config())
    follower = MapCacheSync(loaded.map_cache, loaded.used)
    follower.follow(itr)
    for site in range(2, 6):
        itr.cache.insert(_mapping(f"192.168.{site}.0/24", f"10.0.{site}.2", ttl=60), 0.0, "ms")
    follower.sync()
    for site in (3, 5, 5):
        loaded.run("lisp_encap_eth", ETHERNET + _udp("192.168.1.1", f"192.168.{site}.1", 9))
    used = sorted(str(IPv4Address(key[2])) for key in follower.take_used())
    assert used == ["192.168.3.0", "192.168.5.0"]
    itr.cache.insert(_mapping("192.168.3.0/24", "10.0.3.2", ttl=0), 0.0, "ms")  # TTL 0: removed
    itr.cache.insert(_mapping("192.168.6.0/24", "10.0.6.2", ttl=60), 0.0, "ms")
    follower.sync()
    loaded.run("lisp_encap_eth", ETHERNET + _udp("192.168.1.1", "192.168.3.1", 9))  # a miss now
    assert follower.take_used() == []


# ------------------------------------------------------------ proxy xTRs, PETRs

PXTR = """[node]
name = "pxtr"
roles = ["pitr", "petr"]
[pitr]
eid-prefixes = ["10.20.0.0/16"]
[[map-resolvers]]
address = "198.51.100.254"
"""


def _record(
    prefix: str,
    rlocs: tuple[RlocChoice, ...],
    action: MapReplyAction = MapReplyAction.NO_ACTION,
) -> MappingRecord:
    network = ip_network(prefix)
    return MappingRecord(
        eid=with_instance_id(0, network.network_address),
        eid_mask_len=network.prefixlen,
        ttl=1440,
        authoritative=True,
        locators=tuple(
            Locator(address=r.address, priority=r.priority, weight=r.weight) for r in rlocs
        ),
        action=action,
    )


def _python_sends(itr: Itr, inner: bytes) -> bytes:
    """The outer packet the Python ITR sends for `inner` from its TUN (nonce zeroed)."""
    (action,) = itr.handle_tun(inner, 0.0)
    assert isinstance(action, SendDatagram), action
    return _without_nonce(outer_packet(action))


def _follow(loaded: Loaded, itr: Itr) -> None:
    """The kernel sends from the ITR's RLOC, with the ITR's map-cache."""
    config = layout.config_value(itr.local.rloc_for, False)
    libbpf.update(loaded.obj.map_fd("lisp_config"), bytes(4), config)
    MapCacheSync(loaded.map_cache, loaded.used).follow(itr)


def test_proxy_itr_encapsulation_equals_the_python_pitr_for_every_flow(loaded: Loaded) -> None:
    """Non-LISP sources to an attracted prefix: the Python PITR's bytes (nonce aside)."""
    config = parse_config(PXTR, "pxtr.toml")
    counters = Counters()
    itr = build_xtr_roles(config, counters, DropRecorder(counters), random.Random(1), [OUR_RLOC])[0]
    assert isinstance(itr, Itr)
    for key, value in layout.local_eid_entries(layout.local_prefixes(config), {0: 77}).items():
        libbpf.update(loaded.obj.map_fd("lisp_local_eids"), key, value)
    loaded.set_iid(0)
    itr.cache.insert(_record("10.20.0.0/16", RLOCS), 0.0, "198.51.100.254")
    _follow(loaded, itr)
    for port in range(2000, 2200):
        inner = _udp(f"4.2.2.{port % 250 + 1}", "10.20.3.4", port)
        result = loaded.run("lisp_encap_eth", ETHERNET + inner)
        assert result.retval == TC_ACT_OK
        assert _without_nonce(result.data[14:]) == _python_sends(itr, inner)
    assert counters.get("pitr.packets") == loaded.counter("ebpf.pitr.packets") == 200
    assert loaded.counter("ebpf.encap.packets") == 200
    assert loaded.iid_counts(0) == (200, 0)
    # not attracted, and not from a local EID: the Python ITR's (it forwards natively)
    outside = ETHERNET + _udp("4.2.2.2", "10.21.0.1", 5)
    assert loaded.run("lisp_encap_eth", outside).data == outside
    assert loaded.counter("ebpf.punt.unhandled") == 1


def test_an_instance_tun_never_proxies(loaded: Loaded) -> None:
    """A PITR attracts into instance-id 0 only: another TUN's packet from a non-EID source
    is the Python ITR's (it drops it), even to an attracted prefix's address."""
    for key, value in layout.local_eid_entries(
        [(100, ip_network("10.20.0.0/16"), layout.EID_ATTRACTED)], {100: 78}
    ).items():
        libbpf.update(loaded.obj.map_fd("lisp_local_eids"), key, value)
    loaded.set_iid(100)
    loaded.install(100, "10.20.0.0/16", Step.ENCAPSULATE, RLOCS)
    packet = ETHERNET + _udp("4.2.2.2", "10.20.0.1", 5)
    assert loaded.run("lisp_encap_eth", packet).data == packet
    assert loaded.counter("ebpf.encap.packets") == 0


def test_itr_to_petr_equals_the_python_itr_and_counts_to_petr(loaded: Loaded) -> None:
    """A natively-forward entry with PETRs: encapsulated to a PETR in the kernel."""
    petrs = "".join(
        f'[[petrs]]\naddress = "{a}"\npriority = 1\nweight = {w}\n'
        for a, w in (("203.0.113.7", 50), ("203.0.113.8", 50))
    )
    _, itr, counters = build_xtr(lisp1_config(extra=petrs))
    loaded.set_iid(0)
    native = _record("0.0.0.0/1", (), MapReplyAction.NATIVELY_FORWARD)
    itr.cache.insert(native, 0.0, "10.0.1.254")
    _follow(loaded, itr)
    chosen = set()
    for port in range(2000, 2100):
        inner = _udp("192.168.1.1", "4.2.2.2", port)
        result = loaded.run("lisp_encap_eth", ETHERNET + inner)
        assert _without_nonce(result.data[14:]) == _python_sends(itr, inner)
        chosen.add(result.data[14 + 16 : 14 + 20])
    assert len(chosen) == 2
    assert counters.get("encap.to-petr") == loaded.counter("ebpf.encap.to-petr") == 100
    assert loaded.counter("ebpf.encap.packets") == 100


def _petr_rlocs(loaded: Loaded) -> None:
    """OUR_RLOC is an ETR's and a wildcard PETR's; SECOND_RLOC the ETR's only."""
    entries = layout.local_rloc_entries((OUR_RLOC, SECOND_RLOC), {str(OUR_RLOC)}, petr=())
    entries[SECOND_RLOC.packed] = layout.RLOC_DECAP.to_bytes(4, sys.byteorder)
    for key, value in entries.items():
        libbpf.update(loaded.obj.map_fd("lisp_local_rlocs"), key, value)


def test_petr_decapsulation_hands_on_what_the_python_petr_forwards(loaded: Loaded) -> None:
    _petr_rlocs(loaded)
    counters = Counters()
    petr = Petr(counters, DropRecorder(counters))
    for port in range(4000, 4020):
        inner = _udp("192.168.1.1", "4.2.2.2", port)
        payload = data_header(port, 0b1, 0) + inner
        outer = outer_packet(
            SendDatagram(payload, Endpoint(OUR_RLOC, 4341), 50000 + port, IPv4Address("10.0.1.1"))
        )
        result = loaded.run("lisp_decap", ETHERNET + outer)
        (forward,) = petr.handle_data(
            DatagramReceived(
                payload, Endpoint(ip_address("10.0.1.1"), 50000 + port), Endpoint(OUR_RLOC, 4341)
            ),
            0.0,
        )
        assert isinstance(forward, ForwardNatively)
        assert (result.retval, result.data) == (TC_ACT_OK, ETHERNET + forward.packet)
    assert counters.get("petr.forwarded") == loaded.counter("ebpf.petr.forwarded") == 20
    # a local EID is still the ETR's; the PETR counts no decapsulation of its own
    to_eid = _python_outer(_udp("4.2.2.2", "10.1.0.5", 1), 0, (RlocChoice(0, OUR_RLOC, 1, 1),))
    assert loaded.run("lisp_decap", ETHERNET + to_eid).data == ETHERNET + to_eid[36:]
    assert loaded.counter("ebpf.decap.packets") == 1 and loaded.iid_counts(0) == (0, 1)


def test_petr_leaves_other_instance_ids_and_other_rlocs_to_python(loaded: Loaded) -> None:
    _petr_rlocs(loaded)
    inner = _udp("192.168.1.1", "4.2.2.2", 4000)
    other_iid = _python_outer(inner, 100, (RlocChoice(0, OUR_RLOC, 1, 1),))
    not_petr = _python_outer(inner, 0, (RlocChoice(0, SECOND_RLOC, 1, 1),))
    for packet in (ETHERNET + other_iid, ETHERNET + not_petr):
        result = loaded.run("lisp_decap", packet)
        assert (result.retval, result.data) == (TC_ACT_OK, packet)
    assert loaded.counter("ebpf.petr.forwarded") == 0
    assert loaded.counter("ebpf.decap.passed") == 2
