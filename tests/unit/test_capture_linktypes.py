"""Link-layer headers, IPv4 options, IPv6 extension headers and fragments."""

from __future__ import annotations

import struct
from ipaddress import ip_address

import pytest

from lispstack.capture import (
    LinkType,
    RawFrame,
    SkippedFrame,
    UdpDatagram,
    build_ipv4,
    build_ipv6,
    build_udp,
    build_udp_packet,
    internet_checksum,
    udp_datagram_of,
)

V4 = build_udp_packet("10.0.1.1", "10.0.1.254", 4342, 4342, b"\x10v4")
V6 = build_udp_packet("fd00::1", "fd00::2", 4342, 4342, b"\x10v6")
MACS = bytes.fromhex("020000000002020000000001")


def frame_of(linktype: int, data: bytes) -> UdpDatagram | SkippedFrame:
    return udp_datagram_of(
        RawFrame(
            number=7,
            timestamp=1.0,
            linktype=linktype,
            interface=None,
            data=data,
            original_length=len(data),
        )
    )


def payload_of(linktype: int, data: bytes) -> bytes:
    found = frame_of(linktype, data)
    assert isinstance(found, UdpDatagram), found
    assert found.frame == 7
    return found.payload


def skip_reason(linktype: int, data: bytes) -> SkippedFrame:
    found = frame_of(linktype, data)
    assert isinstance(found, SkippedFrame), found
    return found


def sll(protocol: int) -> bytes:
    return struct.pack("!HHH8sH", 0, 1, 6, MACS[:6], protocol)


def sll2(protocol: int) -> bytes:
    return struct.pack("!HHIHBB8s", protocol, 0, 3, 1, 0, 6, MACS[:6])


@pytest.mark.parametrize(
    ("linktype", "data", "payload"),
    [
        (LinkType.ETHERNET, MACS + b"\x08\x00" + V4, b"\x10v4"),
        (LinkType.ETHERNET, MACS + b"\x86\xdd" + V6, b"\x10v6"),
        (LinkType.ETHERNET, MACS + b"\x81\x00\x00\x64\x08\x00" + V4, b"\x10v4"),
        (LinkType.ETHERNET, MACS + b"\x88\xa8\x00\x0a\x81\x00\x00\x64\x86\xdd" + V6, b"\x10v6"),
        (LinkType.ETHERNET, MACS + b"\x08\x00" + V4 + bytes(20), b"\x10v4"),  # padding
        (LinkType.RAW, V4, b"\x10v4"),
        (LinkType.RAW, V6, b"\x10v6"),
        (LinkType.RAW_ALIAS_12, V4, b"\x10v4"),
        (LinkType.RAW_ALIAS_14, V6, b"\x10v6"),
        (LinkType.IPV4, V4, b"\x10v4"),
        (LinkType.IPV6, V6, b"\x10v6"),
        (LinkType.LINUX_SLL, sll(0x0800) + V4, b"\x10v4"),
        (LinkType.LINUX_SLL, sll(0x86DD) + V6, b"\x10v6"),
        (LinkType.LINUX_SLL2, sll2(0x0800) + V4, b"\x10v4"),
        (LinkType.LINUX_SLL2, sll2(0x86DD) + V6, b"\x10v6"),
        (LinkType.NULL, struct.pack("<I", 2) + V4, b"\x10v4"),
        (LinkType.NULL, struct.pack(">I", 2) + V4, b"\x10v4"),
        (LinkType.NULL, struct.pack("<I", 30) + V6, b"\x10v6"),
        (LinkType.NULL, struct.pack("<I", 10) + V6, b"\x10v6"),
        (LinkType.LOOP, struct.pack(">I", 24) + V6, b"\x10v6"),
        (LinkType.LOOP, struct.pack(">I", 2) + V4, b"\x10v4"),
    ],
)
def test_link_layers_carry_ip(linktype: int, data: bytes, payload: bytes) -> None:
    assert payload_of(linktype, data) == payload


@pytest.mark.parametrize(
    ("linktype", "data", "reason"),
    [
        (LinkType.ETHERNET, MACS, "truncated Ethernet header"),
        (LinkType.ETHERNET, MACS + b"\x81\x00\x00", "truncated 802.1Q VLAN tag"),
        (LinkType.ETHERNET, MACS + b"\x00\x40" + V4, "802.3"),
        (LinkType.ETHERNET, MACS + b"\x08\x00" + V6, "IPv4 expected"),
        (LinkType.RAW, b"\x20" + V4[1:], "IP version 2"),
        (LinkType.RAW, b"", "empty"),
        (LinkType.LINUX_SLL, sll(0x0806) + bytes(28), "ethertype 0x0806"),
        (LinkType.LINUX_SLL2, sll2(0x0800)[:10], "truncated Linux cooked (SLL2)"),
        (LinkType.NULL, struct.pack("<I", 7) + V4, "address family 7"),
        (147, V4, "link type 147 is not supported"),
    ],
)
def test_frames_without_ip_are_skipped_with_a_reason(
    linktype: int, data: bytes, reason: str
) -> None:
    skipped = skip_reason(linktype, data)
    assert reason in skipped.reason
    assert not skipped.fragment


def ipv4_with(header_tail: bytes, flags_offset: int, payload: bytes, proto: int = 17) -> bytes:
    """An IPv4 packet whose header carries `header_tail` as options."""
    ihl = 5 + len(header_tail) // 4
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | ihl,
        0,
        ihl * 4 + len(payload),
        0x1234,
        flags_offset,
        64,
        proto,
        0,
        bytes([10, 0, 0, 1]),
        bytes([10, 0, 0, 2]),
    )
    header += header_tail
    checksum = internet_checksum(header)
    return header[:10] + checksum.to_bytes(2, "big") + header[12:] + payload


UDP_SEGMENT = build_udp("10.0.0.1", "10.0.0.2", 4342, 4342, b"\x10options")


def test_ipv4_options_are_skipped() -> None:
    packet = ipv4_with(b"\x94\x04\x00\x00", 0, UDP_SEGMENT)  # router alert
    found = frame_of(LinkType.RAW, packet)
    assert isinstance(found, UdpDatagram)
    assert found.payload == b"\x10options" and found.complete


def test_ipv4_first_fragment_is_returned_incomplete() -> None:
    found = frame_of(LinkType.RAW, ipv4_with(b"", 0x2000, UDP_SEGMENT[:12]))
    assert isinstance(found, UdpDatagram)
    assert not found.complete
    assert found.payload == b"\x10opt"


def test_ipv4_later_fragment_is_reported_as_fragment() -> None:
    skipped = skip_reason(LinkType.RAW, ipv4_with(b"", 3, b"rest of it"))
    assert skipped.fragment
    assert skipped.reason == "IPv4 fragment at offset 24 of datagram id 0x1234"


def test_ipv4_not_udp_is_skipped() -> None:
    skipped = skip_reason(LinkType.RAW, ipv4_with(b"", 0, bytes(8), proto=1))
    assert skipped.reason == "IPv4 protocol 1 is not UDP"


def test_snap_length_truncation_is_incomplete() -> None:
    found = frame_of(LinkType.RAW, V4[:-1])
    assert isinstance(found, UdpDatagram)
    assert (found.payload, found.complete) == (b"\x10v", False)


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (V4[:19], "truncated IPv4 header: 19 of 20 bytes"),
        (b"\x44" + V4[1:], "IPv4 header length 16 is below 20"),
        (b"\x46" + V4[1:20], "truncated IPv4 header: 20 of 24 bytes"),
        (V4[:2] + b"\x00\x10" + V4[4:], "IPv4 total length 16 is below the header length 20"),
        (V4[:24], "truncated UDP header: 4 of 8 bytes"),
    ],
)
def test_broken_ipv4_headers_are_skipped(packet: bytes, reason: str) -> None:
    assert skip_reason(LinkType.RAW, packet).reason == reason


SEG6 = build_udp("fd00::1", "fd00::2", 4342, 4342, b"\x10ext")


def ext(next_header: int, body_len_units: int) -> bytes:
    """An 8-octet-unit extension header (hop-by-hop, routing, destination options)."""
    return bytes([next_header, body_len_units]) + bytes(6 + 8 * body_len_units)


def test_ipv6_extension_headers_are_skipped() -> None:
    chain = ext(43, 0) + ext(60, 1) + ext(17, 0)  # hop-by-hop -> routing -> dest-opts -> UDP
    packet = build_ipv6("fd00::1", "fd00::2", 0, chain + SEG6)
    found = frame_of(LinkType.RAW, packet)
    assert isinstance(found, UdpDatagram)
    assert (found.src, found.payload, found.complete) == (ip_address("fd00::1"), b"\x10ext", True)


def test_ipv6_fragments() -> None:
    first = build_ipv6("fd00::1", "fd00::2", 44, bytes([17, 0, 0, 1]) + b"\0\0\0\x09" + SEG6[:10])
    found = frame_of(LinkType.RAW, first)
    assert isinstance(found, UdpDatagram) and not found.complete
    later = build_ipv6("fd00::1", "fd00::2", 44, bytes([17, 0, 0, 0x10]) + b"\0\0\0\x09" + b"x")
    skipped = skip_reason(LinkType.RAW, later)
    assert skipped.fragment
    assert skipped.reason == "IPv6 fragment at offset 16 of datagram id 0x00000009"


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (build_ipv6("fd00::1", "fd00::2", 58, bytes(8)), "next header 58 is not UDP"),
        (build_ipv6("fd00::1", "fd00::2", 59, b""), "no next header"),
        (build_ipv6("fd00::1", "fd00::2", 0, b"\x11"), "truncated IPv6 extension header"),
        (build_ipv6("fd00::1", "fd00::2", 0, bytes([17, 3, 0, 0])), "runs past"),
        (V6[:39], "truncated IPv6 header"),
    ],
)
def test_odd_ipv6_packets_are_skipped(packet: bytes, reason: str) -> None:
    assert reason in skip_reason(LinkType.RAW, packet).reason


def test_udp_length_below_eight_is_skipped() -> None:
    segment = struct.pack("!HHHH", 1, 2, 4, 0)
    assert (
        "UDP length 4"
        in skip_reason(LinkType.RAW, build_ipv4("10.0.0.1", "10.0.0.2", 17, segment)).reason
    )
