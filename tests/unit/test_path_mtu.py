"""RFC 9300 section 7.1: the ICMP too-big messages and IPv4 fragments an ITR builds."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from helpers.tshark import tshark_binary
from helpers.xtr_fixtures import ones_sum, udp4, udp6
from lispstack.capture import build_udp_packet, write_pcap
from lispstack.core.path_mtu import (
    TooBigLimiter,
    dont_fragment,
    fragment_ipv4,
    may_answer,
    too_big,
    too_big_ipv4,
    too_big_ipv6,
)


def test_icmpv4_fragmentation_needed_bytes() -> None:
    packet = udp4(1500)
    message = too_big_ipv4(packet, 1464)
    assert len(message) == 576  # as much of the packet as fits in 576 bytes (RFC 1812)
    assert message[:12] == bytes.fromhex("45000240000000004001") + message[10:12]
    assert message[12:20] == bytes.fromhex(
        "c0a80201c0a80101"
    )  # from its destination, to its source
    assert ones_sum(message[:20]) == 0xFFFF  # the header checksum is right
    icmp = message[20:]
    assert icmp[:2] == b"\x03\x04"  # Destination Unreachable, Fragmentation Needed
    assert icmp[4:8] == bytes.fromhex("000005b8")  # unused 0, next-hop MTU 1464 (RFC 1191)
    assert ones_sum(icmp) == 0xFFFF
    assert icmp[8:] == packet[:548]


def test_icmpv4_quotes_a_short_packet_whole() -> None:
    packet = udp4(100)
    message = too_big_ipv4(packet, 68)
    assert len(message) == 20 + 8 + 100
    assert message[28:] == packet
    assert ones_sum(message[20:]) == 0xFFFF


def test_icmpv6_packet_too_big_bytes() -> None:
    packet = udp6(1500)
    message = too_big_ipv6(packet, 1444)
    assert len(message) == 1280  # as much as fits in the IPv6 minimum MTU (RFC 4443 2.4)
    assert message[:8] == bytes.fromhex("6000000004d83a40")  # payload 1240, ICMPv6, hop limit 64
    assert message[8:24] == packet[24:40]  # from its destination
    assert message[24:40] == packet[8:24]  # to its source
    icmp = message[40:]
    assert icmp[:2] == b"\x02\x00"
    assert icmp[4:8] == (1444).to_bytes(4, "big")
    pseudo = message[8:40] + struct.pack("!I3xB", len(icmp), 58)
    assert ones_sum(pseudo + icmp) == 0xFFFF
    assert icmp[8:] == packet[:1232]
    assert too_big(packet, 1444) == message


def test_no_icmp_error_about_an_icmp_error_a_fragment_or_a_multicast_source() -> None:
    assert may_answer(udp4(1500))
    assert may_answer(udp6(1500))
    error = too_big_ipv4(udp4(1500), 1464)
    assert not may_answer(error)
    assert not may_answer(too_big_ipv6(udp6(1500), 1444))
    later = bytearray(udp4(1500, df=False))
    later[6:8] = (185).to_bytes(2, "big")  # offset 1480 bytes
    assert not may_answer(bytes(later))
    assert not may_answer(udp4(1500, src="224.0.0.5"))
    assert not may_answer(udp4(1500, src="0.0.0.0"))
    assert not may_answer(udp6(1500, src="ff02::1"))
    echo = build_udp_packet("192.168.1.1", "192.168.2.1", 1, 2, b"")
    echo = echo[:9] + b"\x01" + echo[10:20] + b"\x08\x00" + echo[22:]  # an ICMP echo request
    assert may_answer(echo)


def test_dont_fragment() -> None:
    assert dont_fragment(udp4(1500))
    assert not dont_fragment(udp4(1500, df=False))
    assert dont_fragment(udp6(1500))
    assert dont_fragment(b"\x44" + udp4(1500, df=False)[1:])  # IHL 4: malformed, never split


def reassemble(fragments: list[bytes]) -> bytes:
    data = b"".join(f[(f[0] & 0x0F) * 4 :] for f in fragments)
    return data


@pytest.mark.parametrize("size", [1465, 1500, 2000, 4000, 9000])
def test_fragments_fit_are_equal_and_reassemble(size: int) -> None:
    packet = udp4(size, df=False)
    fragments = fragment_ipv4(packet, 1464)
    assert all(len(f) <= 1464 for f in fragments)
    assert len(fragments) == -(-(size - 20) // 1440)  # the fewest that fit
    sizes = {len(f) for f in fragments[:-1]}
    assert len(sizes) <= 1  # equal shares, but for the 8-byte rounding the last one takes
    assert max(sizes, default=0) - len(fragments[-1]) < 8 * len(fragments)
    assert reassemble(fragments) == packet[20:]
    offset = 0
    for index, fragment in enumerate(fragments):
        flags = int.from_bytes(fragment[6:8], "big")
        assert flags & 0x1FFF == offset // 8
        assert bool(flags & 0x2000) == (index < len(fragments) - 1)
        assert int.from_bytes(fragment[2:4], "big") == len(fragment)
        assert ones_sum(fragment[:20]) == 0xFFFF
        assert fragment[4:6] == packet[4:6] and fragment[8:10] == packet[8:10]  # id, TTL, proto
        offset += len(fragment) - 20


def test_two_fragments_of_equal_size_and_options_copied_by_their_flag() -> None:
    options = bytes([0x94, 4, 0, 0]) + bytes([0x07, 3, 4]) + b"\x01"  # router alert, record route
    packet = bytearray(udp4(1500, df=False))
    packet = packet[:20] + options + packet[20:]
    packet[0] = 0x47
    packet[2:4] = len(packet).to_bytes(2, "big")
    first, second = fragment_ipv4(bytes(packet), 1464)
    assert first[:1] == b"\x47" and first[20:28] == options  # the first keeps every option
    assert second[:1] == b"\x46" and second[20:24] == options[:4]  # only the copied one
    assert (len(first) - 28, len(second) - 24) == (744, 736)  # 1480 bytes, in 8-byte units


def test_a_fragment_of_a_fragment_keeps_its_offset_and_last_mf() -> None:
    packet = bytearray(udp4(1500, df=False))
    packet[6:8] = (0x2000 | 100).to_bytes(2, "big")  # a middle fragment, offset 800
    fragments = fragment_ipv4(bytes(packet), 1000)
    flags = [int.from_bytes(f[6:8], "big") for f in fragments]
    assert flags[0] == 0x2000 | 100
    assert flags[-1] & 0x2000  # the original's MF survives on the last piece


def test_limiter_allows_a_burst_then_the_rate() -> None:
    limiter = TooBigLimiter(rate=10)
    assert sum(limiter.allow(0.0) for _ in range(20)) == 10
    assert not limiter.allow(0.05)
    assert limiter.allow(0.2)
    assert sum(limiter.allow(100.0) for _ in range(20)) == 10  # never more than the burst


FIELDS = (
    "ip.checksum.status",
    "icmp.type",
    "icmp.code",
    "icmp.mtu",
    "icmp.checksum.status",
    "icmpv6.type",
    "icmpv6.mtu",
    "icmpv6.checksum.status",
    "udp.length",
    "udp.checksum.status",
    "_ws.malformed",
    "_ws.expert.message",
)


@pytest.mark.tshark
def test_tshark_reads_too_big_messages_and_reassembles_fragments(tmp_path: Path) -> None:
    binary = tshark_binary()
    assert binary is not None, "tshark not found (apt-get install tshark)"
    fragments = fragment_ipv4(udp4(1500, df=False), 1464)
    packets = [too_big(udp4(1500), 1464), too_big(udp6(1500), 1444), *fragments]
    pcap = tmp_path / "too-big.pcap"
    write_pcap(pcap, [(packet, float(i)) for i, packet in enumerate(packets)])
    command = [binary, "-n", "-r", str(pcap), "-o", "ip.check_checksum:TRUE"]
    command += ["-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "occurrence=f"]
    for name in FIELDS:
        command += ["-e", name]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    rows = [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in result.stdout.splitlines()]
    icmp4, icmp6, first, last = rows
    good = "1"  # Wireshark's checksum status "Good"
    assert (icmp4["icmp.type"], icmp4["icmp.code"], icmp4["icmp.mtu"]) == ("3", "4", "1464")
    assert icmp4["icmp.checksum.status"] == good and icmp4["ip.checksum.status"] == good
    assert (icmp6["icmpv6.type"], icmp6["icmpv6.mtu"]) == ("2", "1444")
    assert icmp6["icmpv6.checksum.status"] == good
    assert first["ip.checksum.status"] == last["ip.checksum.status"] == good
    assert last["udp.length"] == "1480"  # reassembled from the two fragments
    assert last["udp.checksum.status"] == good
    for row in rows:
        assert not row["_ws.malformed"] and not row["_ws.expert.message"], row
