"""The ITR's stateless path-MTU handling (RFC 9300 section 7.1).

L is the largest encapsulated packet the ITR sends towards an ETR (the
`[itr] rloc-path-mtu` key); H the outer headers it adds (IPv4: 20 + UDP 8 +
LISP 8 = 36 bytes; IPv6: 40 + 8 + 8 = 56); S = L - H the largest inner
packet that fits. An inner packet bigger than S is

- an IPv4 packet with DF clear: split into IPv4 fragments of at most S
  bytes, of equal size as far as the 8-byte fragment unit allows (RFC 9300:
  "2 equal-sized fragments" when two suffice), each encapsulated on its own;
- otherwise (DF set, or IPv6): dropped, and the source gets an ICMPv4
  Destination Unreachable / Fragmentation Needed (type 3 code 4, next-hop
  MTU S, RFC 1191) or an ICMPv6 Packet Too Big (type 2, MTU S, RFC 4443),
  at most `TOO_BIG_RATE` a second.

The ICMP message comes from the inner packet's destination address: the ITR
writes it into its TUN device, and a packet arriving there from one of the
xTR's own addresses would be a martian source to the kernel. It quotes as
much of the packet as fits in 576 bytes (IPv4, RFC 1812 section 4.3.2.3) or
1280 bytes (IPv6, RFC 4443 section 2.4). No ICMP error answers an ICMP error,
a non-initial fragment, or an unspecified, multicast or broadcast source
(RFC 1122 section 3.2.2, RFC 4443 section 2.4 (e)).

Pure functions on bytes: the ITR core calls them, the edge only writes the
result into the TUN device.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

from lispstack.wire.ip_udp import internet_checksum, ipv4_header, ipv6_header

OUTER_OVERHEAD = {4: 36, 6: 56}
"""H by outer IP version: IP header, UDP header, LISP header."""
DEFAULT_RLOC_PATH_MTU = 1500
ICMPV4_LIMIT = 576
ICMPV6_LIMIT = 1280
PROTO_ICMPV4 = 1
PROTO_ICMPV6 = 58
TOO_BIG_RATE = 100.0
"""ICMP too-big messages a second at most (a token bucket holding as many)."""

_DF = 0x40
_MF = 0x2000
_OFFSET_MASK = 0x1FFF
_ICMPV4_ERRORS = frozenset({3, 4, 5, 11, 12})  # unreachable, quench, redirect, time, parameter
_ICMP_HEADER = struct.Struct("!BBHHH")
_ICMPV6_HEADER = struct.Struct("!BBHI")
_FLAGS_OFFSET = struct.Struct("!H")
_BROADCAST = IPv4Address("255.255.255.255")


def dont_fragment(packet: bytes) -> bool:
    """Whether the inner packet may not be split: IPv6, IPv4 with DF set, or an IPv4
    header shorter than 20 bytes (which the kernel never routes; not ours to split)."""
    return packet[0] >> 4 != 4 or bool(packet[6] & _DF) or packet[0] & 0x0F < 5


def may_answer(packet: bytes) -> bool:
    """Whether an ICMP error may be sent about `packet` (see the module text)."""
    if packet[0] >> 4 == 4:
        ihl = (packet[0] & 0x0F) * 4
        if _FLAGS_OFFSET.unpack_from(packet, 6)[0] & _OFFSET_MASK:
            return False
        if packet[9] == PROTO_ICMPV4 and len(packet) > ihl and packet[ihl] in _ICMPV4_ERRORS:
            return False
        source = IPv4Address(packet[12:16])
        return not (source.is_unspecified or source.is_multicast or source == _BROADCAST)
    if packet[6] == PROTO_ICMPV6 and len(packet) > 40 and packet[40] < 128:
        return False
    source6 = IPv6Address(packet[8:24])
    return not (source6.is_unspecified or source6.is_multicast)


def too_big_ipv4(packet: bytes, mtu: int) -> bytes:
    """ICMPv4 Fragmentation Needed (type 3 code 4, next-hop MTU `mtu`) to the source of
    IPv4 `packet`, from its destination, quoting what fits in 576 bytes."""
    quote = packet[: ICMPV4_LIMIT - 20 - 8]
    message = _ICMP_HEADER.pack(3, 4, 0, 0, mtu) + quote
    checksum = internet_checksum(message)
    message = message[:2] + checksum.to_bytes(2, "big") + message[4:]
    source, destination = IPv4Address(packet[16:20]), IPv4Address(packet[12:16])
    return ipv4_header(source, destination, PROTO_ICMPV4, len(message)) + message


def too_big_ipv6(packet: bytes, mtu: int) -> bytes:
    """ICMPv6 Packet Too Big (type 2 code 0, MTU `mtu`) to the source of IPv6 `packet`,
    from its destination, quoting what fits in 1280 bytes."""
    quote = packet[: ICMPV6_LIMIT - 40 - 8]
    source, destination = packet[24:40], packet[8:24]
    message = _ICMPV6_HEADER.pack(2, 0, 0, mtu) + quote
    pseudo = source + destination + struct.pack("!I3xB", len(message), PROTO_ICMPV6)
    checksum = internet_checksum(pseudo + message)
    message = message[:2] + checksum.to_bytes(2, "big") + message[4:]
    header = ipv6_header(IPv6Address(source), IPv6Address(destination), PROTO_ICMPV6, len(message))
    return header + message


def too_big(packet: bytes, mtu: int) -> bytes:
    """The ICMP too-big message for an IPv4 or IPv6 `packet` (see too_big_ipv4/6)."""
    return too_big_ipv4(packet, mtu) if packet[0] >> 4 == 4 else too_big_ipv6(packet, mtu)


def fragment_ipv4(packet: bytes, size: int) -> list[bytes]:
    """IPv4 `packet` (DF clear) as fragments of at most `size` bytes each (RFC 791).

    Fragments of equal size as far as the 8-byte unit allows; the first keeps
    every option, the others only those with the copied flag. A fragment of
    a fragment keeps its offset and, on the last piece, the original MF flag.
    """
    ihl = (packet[0] & 0x0F) * 4
    header, data = packet[:ihl], packet[ihl:]
    later_header = header[:20] + _copied_options(header[20:])
    room = (size - max(ihl, len(later_header))) // 8 * 8
    if room <= 0:
        raise ValueError(f"no IPv4 fragment of a {ihl}-byte header fits {size} bytes")
    count = -(-len(data) // room)
    share = -(-len(data) // count)
    chunk = (share + 7) // 8 * 8  # at most room, itself a multiple of 8
    flags = _FLAGS_OFFSET.unpack_from(packet, 6)[0]
    offset, last_more = flags & _OFFSET_MASK, flags & _MF
    fragments = []
    for start in range(0, len(data), chunk):
        piece = data[start : start + chunk]
        more = _MF if start + chunk < len(data) else last_more
        head = header if start == 0 else later_header
        fragments.append(_fragment(head, piece, (offset + start // 8) | more | (flags & 0x8000)))
    return fragments


def _fragment(header: bytes, data: bytes, flags: int) -> bytes:
    ihl = len(header)
    fields = bytearray(header)
    fields[0] = 0x40 | ihl // 4
    fields[2:4] = (ihl + len(data)).to_bytes(2, "big")
    fields[6:8] = flags.to_bytes(2, "big")
    fields[10:12] = b"\0\0"
    fields[10:12] = internet_checksum(bytes(fields)).to_bytes(2, "big")
    return bytes(fields) + data


def _copied_options(options: bytes) -> bytes:
    """The options with the copied flag (RFC 791), padded with end-of-options to 4 bytes."""
    kept = b""
    position = 0
    while position < len(options):
        kind = options[position]
        if kind == 0:  # end of options
            break
        if kind == 1:  # no-operation
            position += 1
            continue
        length = options[position + 1] if position + 1 < len(options) else 0
        if length < 2:  # malformed: copy nothing more
            break
        if kind & 0x80:
            kept += options[position : position + length]
        position += length
    return kept + b"\0" * (-len(kept) % 4)


class TooBigLimiter:
    """A token bucket: at most `rate` ICMP messages a second, in bursts of as many."""

    __slots__ = ("_last", "_rate", "_tokens")

    def __init__(self, rate: float = TOO_BIG_RATE) -> None:
        self._rate = rate
        self._tokens = rate
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        if self._last is not None:
            self._tokens = min(self._rate, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
