"""pcapng files built by hand: sections, interfaces of different link types, options."""

from __future__ import annotations

import struct
from ipaddress import ip_address

import pytest

from lispstack.capture import CaptureError, LinkType, build_udp_packet, parse_capture

V4 = build_udp_packet("10.0.1.1", "10.0.1.254", 4342, 4342, b"\x10request")
V6 = build_udp_packet("fd00::1", "fd00::2", 4341, 4341, b"\xc0data")
ETH_HEADER = bytes.fromhex("020000000002 020000000001 0800")


def option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def block(order: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack(order + "II", btype, length) + body + struct.pack(order + "I", length)


def shb(order: str) -> bytes:
    return block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(order: str, linktype: int, name: str | None = None, tsresol: int | None = None) -> bytes:
    opts = b""
    if name is not None:
        opts += option(order, 2, name.encode())
    if tsresol is not None:
        opts += option(order, 9, bytes([tsresol]))
    if opts:
        opts += option(order, 0, b"")
    return block(order, 1, struct.pack(order + "HHI", linktype, 0, 0) + opts)


def epb(order: str, iface: int, ts: int, data: bytes) -> bytes:
    head = struct.pack(order + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data))
    return block(order, 6, head + data)


def spb(order: str, data: bytes) -> bytes:
    return block(order, 3, struct.pack(order + "I", len(data)) + data)


@pytest.mark.parametrize("order", ["<", ">"])
def test_two_interfaces_of_different_link_types(order: str) -> None:
    data = (
        shb(order)
        + idb(order, LinkType.ETHERNET, "veth-rloc")
        + idb(order, LinkType.RAW, "lisp-tun", tsresol=9)
        + epb(order, 0, 1_700_000_000_250_000, ETH_HEADER + V4)
        + block(order, 5, b"\0" * 12)  # interface statistics: skipped, not a frame
        + epb(order, 1, 1_700_000_001_000_000_500, V6)
    )
    capture = parse_capture(data)
    assert capture.format == "pcapng"
    assert capture.frame_count == 2
    first, second = capture.datagrams
    assert (first.frame, first.interface, first.src, first.payload) == (
        1,
        "veth-rloc",
        ip_address("10.0.1.1"),
        b"\x10request",
    )
    assert first.timestamp == pytest.approx(1_700_000_000.25)
    assert (second.frame, second.interface, second.dst, second.dport) == (
        2,
        "lisp-tun",
        ip_address("fd00::2"),
        4341,
    )
    assert second.timestamp == pytest.approx(1_700_000_001.0000005, abs=1e-6)


def test_power_of_two_resolution_and_no_name() -> None:
    data = shb("<") + idb("<", LinkType.RAW, tsresol=0x80 | 10) + epb("<", 0, 3 * 1024 + 512, V4)
    (datagram,) = parse_capture(data).datagrams
    assert datagram.interface is None
    assert datagram.timestamp == 3.5


def test_simple_packet_block_uses_interface_zero() -> None:
    data = shb(">") + idb(">", LinkType.ETHERNET, "eth0") + spb(">", ETH_HEADER + V4)
    (datagram,) = parse_capture(data).datagrams
    assert (datagram.interface, datagram.timestamp, datagram.payload) == (
        "eth0",
        0.0,
        b"\x10request",
    )


def test_a_new_section_may_change_byte_order_and_interfaces() -> None:
    data = (
        shb("<")
        + idb("<", LinkType.RAW, "a")
        + epb("<", 0, 1, V4)
        + shb(">")
        + idb(">", LinkType.ETHERNET, "b")
        + epb(">", 0, 2, ETH_HEADER + V4)
    )
    capture = parse_capture(data)
    assert [(d.frame, d.interface) for d in capture.datagrams] == [(1, "a"), (2, "b")]


def test_non_udp_frames_are_counted_and_skipped() -> None:
    arp = bytes.fromhex("ffffffffffff 020000000001 0806") + bytes(28)
    data = (
        shb("<")
        + idb("<", LinkType.ETHERNET)
        + epb("<", 0, 0, arp)
        + epb("<", 0, 0, ETH_HEADER + V4)
    )
    capture = parse_capture(data)
    assert capture.frame_count == 2
    assert [d.frame for d in capture.datagrams] == [2]
    assert [(s.frame, s.reason) for s in capture.skipped] == [(1, "ethertype 0x0806 is not IP")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (shb("<") + epb("<", 0, 0, V4), "interface 0, which is not described"),
        (shb("<") + idb("<", 101)[:-4], "cut short"),
        (shb("<")[:8] + b"\x01\x02\x03\x04" + shb("<")[12:], "byte-order magic"),
        (shb("<") + struct.pack("<II", 1, 13) + b"\0" * 5, "multiple of 4"),
        (
            shb("<") + block("<", 1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HH", 2, 40)),
            "option 2",
        ),
        (
            shb("<") + idb("<", 1) + block("<", 6, struct.pack("<IIIII", 0, 0, 0, 99, 99)),
            "runs past",
        ),
        (
            shb("<")[:-4] + struct.pack("<I", 999),
            "trailing length",
        ),
    ],
)
def test_broken_pcapng_raises_capture_error(data: bytes, message: str) -> None:
    with pytest.raises(CaptureError, match=message):
        parse_capture(data)
