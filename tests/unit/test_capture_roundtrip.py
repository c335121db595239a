"""Packets built by the wire IP/UDP codec (exported by lispstack.capture), to pcap and back."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lispstack.capture import (
    LinkType,
    UdpDatagram,
    build_udp_packet,
    internet_checksum,
    parse_capture,
    pcap_bytes,
    read_capture,
    udp_checksum,
    write_pcap,
)


def _reference_checksum(data: bytes) -> int:
    """RFC 1071 word by word, with end-around carry."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@given(st.binary(max_size=300))
def test_internet_checksum_matches_rfc1071(data: bytes) -> None:
    assert internet_checksum(data) == _reference_checksum(data)


def test_internet_checksum_rfc1071_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2


def test_ipv4_udp_packet_fields_and_checksums() -> None:
    packet = build_udp_packet("10.0.1.1", "10.0.1.254", 4342, 4341, b"\x10hello")
    assert len(packet) == 20 + 8 + 6
    assert packet[0] == 0x45 and packet[9] == 17
    assert int.from_bytes(packet[2:4], "big") == len(packet)
    assert packet[12:16] == bytes([10, 0, 1, 1]) and packet[16:20] == bytes([10, 0, 1, 254])
    assert internet_checksum(packet[:20]) == 0  # a filled-in header checksum verifies to 0
    assert udp_checksum("10.0.1.1", "10.0.1.254", packet[20:]) == 0
    assert packet[20:28] == struct.pack("!HHH", 4342, 4341, 14) + packet[26:28]
    assert packet[26:28] != b"\0\0"


def test_ipv6_udp_packet_fields_and_checksum() -> None:
    packet = build_udp_packet("fd00::1", "fd00::2", 4342, 4342, b"\x20" * 10)
    assert packet[0] >> 4 == 6 and packet[6] == 17 and packet[7] == 64
    assert int.from_bytes(packet[4:6], "big") == 18
    assert udp_checksum("fd00::1", "fd00::2", packet[40:]) == 0


def test_udp_checksum_zero_is_sent_as_ffff() -> None:
    # Choose the payload so that the computed checksum is 0: then 0xFFFF must go on the wire.
    src, dst = "10.0.0.1", "10.0.0.2"
    base = build_udp_packet(src, dst, 1, 2, b"\0\0")[20:]
    (current,) = struct.unpack("!H", base[6:8])
    # Adding `current` to the payload word lowers the one's complement sum to 0xFFFF.
    payload = current.to_bytes(2, "big")
    packet = build_udp_packet(src, dst, 1, 2, payload)
    assert packet[26:28] == b"\xff\xff"
    assert udp_checksum(src, dst, packet[20:]) == 0


@pytest.mark.parametrize(("src", "dst"), [("10.0.0.1", "fd00::1"), ("fd00::1", "10.0.0.1")])
def test_mixed_families_are_refused(src: str, dst: str) -> None:
    with pytest.raises(ValueError, match="different IP versions"):
        build_udp_packet(src, dst, 1, 2, b"")


def test_bad_port_and_oversized_payload_are_refused() -> None:
    with pytest.raises(ValueError, match="port"):
        build_udp_packet("10.0.0.1", "10.0.0.2", 70000, 2, b"")
    with pytest.raises(ValueError, match="does not fit"):
        build_udp_packet("10.0.0.1", "10.0.0.2", 1, 2, bytes(65530))


addresses_v4 = st.integers(0, 2**32 - 1).map(IPv4Address)
addresses_v6 = st.integers(0, 2**128 - 1).map(IPv6Address)
ports = st.integers(0, 65535)
pairs = st.one_of(st.tuples(addresses_v4, addresses_v4), st.tuples(addresses_v6, addresses_v6))


@given(
    pairs,
    ports,
    ports,
    st.binary(max_size=200),
    st.sampled_from([LinkType.RAW, LinkType.ETHERNET]),
    st.integers(0, 2**32 - 2),
)
def test_write_read_roundtrip(
    addrs: tuple[IPv4Address, IPv4Address] | tuple[IPv6Address, IPv6Address],
    sport: int,
    dport: int,
    payload: bytes,
    linktype: LinkType,
    micros: int,
) -> None:
    src, dst = addrs
    packet = build_udp_packet(src, dst, sport, dport, payload)
    when = micros / 1_000_000 + 1
    capture = parse_capture(pcap_bytes([(packet, when), (packet, when + 0.5)], linktype=linktype))
    assert capture.frame_count == 2
    first = capture.datagrams[0]
    assert first == UdpDatagram(
        frame=1,
        timestamp=first.timestamp,
        interface=None,
        src=src,
        dst=dst,
        sport=sport,
        dport=dport,
        payload=payload,
        ip_packet=packet,
    )
    assert first.timestamp == pytest.approx(when, abs=1e-6)
    assert capture.datagrams[1].frame == 2


def test_write_pcap_file_and_read_it(tmp_path: Path) -> None:
    packets = [
        (build_udp_packet("10.0.1.1", "10.0.1.254", 4342, 4342, b"\x80ecm"), 100.25),
        (build_udp_packet("fd00::1", "fd00::2", 40000, 4341, b"\xc0data"), 101.5),
    ]
    path = tmp_path / "out.pcap"
    write_pcap(path, packets, linktype=LinkType.ETHERNET)
    raw = path.read_bytes()
    assert raw[:4] == b"\xd4\xc3\xb2\xa1" and struct.unpack_from("<I", raw, 20)[0] == 1
    capture = read_capture(path)
    assert [(d.src, d.dport, d.payload, d.timestamp) for d in capture.datagrams] == [
        (ip_address("10.0.1.1"), 4342, b"\x80ecm", 100.25),
        (ip_address("fd00::1"), 4341, b"\xc0data", 101.5),
    ]


def test_writer_refuses_what_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="link type"):
        pcap_bytes([], linktype=LinkType.LINUX_SLL)
    with pytest.raises(ValueError, match="not an IP packet"):
        pcap_bytes([(b"\x00abc", 1.0)], linktype=LinkType.ETHERNET)
    with pytest.raises(ValueError, match="timestamp"):
        pcap_bytes([(b"\x45", -1.0)])
