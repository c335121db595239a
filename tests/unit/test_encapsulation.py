"""Data plane: LISP header, flow hash, RLOC choice, decapsulation checks, outer packet."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address

import pytest

from helpers.xtr_fixtures import icmp, udp
from lispstack.capture.ip_udp import parse_ip_udp
from lispstack.core.encapsulation import (
    FLAG_I,
    FLAG_L,
    FLAG_N,
    RlocChoice,
    choose_rloc,
    data_header,
    decapsulate,
    flow_hash,
    inner_ints,
    locator_status_bits,
    outer_packet,
    source_port,
)
from lispstack.core.events import Endpoint, SendDatagram
from lispstack.wire.errors import DecodeError


def rloc(index: int, address: str, priority: int = 1, weight: int = 100, **kw: bool) -> RlocChoice:
    return RlocChoice(index, ip_address(address), priority, weight, kw.get("reachable", True))


def test_header_has_n_and_l_bits_nonce_and_lsb() -> None:
    header = data_header(0xABCDEF, 0b101)
    assert header == bytes([FLAG_N | FLAG_L, 0xAB, 0xCD, 0xEF, 0, 0, 0, 5])


def test_header_with_instance_id_sets_i_bit_and_keeps_8_lsbs() -> None:
    header = data_header(1, 0x1FF, iid=100)
    assert header[0] == FLAG_N | FLAG_L | FLAG_I
    assert int.from_bytes(header[4:7]) == 100
    assert header[7] == 0xFF


def test_decapsulate_round_trip() -> None:
    inner = icmp("192.168.1.1", "192.168.2.1")
    d = decapsulate(data_header(0x123456, 1, iid=7) + inner)
    assert (d.nonce, d.iid, d.lsb, d.inner) == (0x123456, 7, 1, inner)


@pytest.mark.parametrize(
    "payload",
    [b"", bytes(8), data_header(1, 1) + b"\x50" + bytes(30), bytes([0x90]) + bytes(7) + b"\x45"],
    ids=["empty", "header-only", "inner-version-5", "n-and-v-bits"],
)
def test_decapsulate_rejects_malformed(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decapsulate(payload)


def test_inner_ints_reads_version_and_addresses() -> None:
    packet = icmp("192.168.1.1", "4.2.2.2")
    assert inner_ints(packet) == (4, int(IPv4Address("192.168.1.1")), int(IPv4Address("4.2.2.2")))
    with pytest.raises(DecodeError):
        inner_ints(packet[:19])


def test_flow_hash_follows_the_flow_and_its_ports() -> None:
    a = udp("192.168.1.1", "192.168.2.1", 1000, 53)
    assert flow_hash(a) == flow_hash(udp("192.168.1.1", "192.168.2.1", 1000, 53))
    assert flow_hash(a) != flow_hash(udp("192.168.1.1", "192.168.2.1", 1001, 53))
    assert 49152 <= source_port(flow_hash(a)) <= 65535


def test_choose_rloc_lowest_priority_reachable_and_not_255() -> None:
    rlocs = [
        rloc(0, "10.0.0.1", priority=255),
        rloc(1, "10.0.0.2", priority=2),
        rloc(2, "10.0.0.3", priority=1, reachable=False),
        rloc(3, "10.0.0.4", priority=1),
    ]
    for h in range(50):
        choice = choose_rloc(rlocs, h, frozenset({4}))
        assert choice is not None and choice.index == 3
    assert choose_rloc(rlocs[:1], 0, frozenset({4})) is None
    assert choose_rloc(rlocs, 0, frozenset({6})) is None


def test_choose_rloc_spreads_by_weight() -> None:
    rlocs = [rloc(0, "10.0.0.1", weight=75), rloc(1, "10.0.0.2", weight=25)]
    picks = [choose_rloc(rlocs, h, frozenset({4})) for h in range(100)]
    assert sum(1 for p in picks if p is not None and p.index == 0) == 75


def test_locator_status_bits_mark_reachable_locators() -> None:
    rlocs = [rloc(0, "10.0.0.1"), rloc(1, "10.0.0.2", reachable=False), rloc(2, "10.0.0.3")]
    assert locator_status_bits(rlocs) == 0b101


def test_outer_packet_ipv4_has_zero_udp_checksum() -> None:
    action = SendDatagram(
        b"payload", Endpoint(ip_address("10.0.2.2"), 4341), 50000, ip_address("10.0.1.1")
    )
    outer = parse_ip_udp(outer_packet(action))
    assert (str(outer.src), str(outer.dst), outer.sport, outer.dport, outer.payload) == (
        "10.0.1.1",
        "10.0.2.2",
        50000,
        4341,
        b"payload",
    )
    assert outer.ip_packet[26:28] == b"\0\0"
