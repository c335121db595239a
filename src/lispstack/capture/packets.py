"""Building IPv4 / IPv6 packets carrying UDP, with correct checksums.

These are lispstack's canonical builders: the tests' Wireshark cross-check
and the lab use them to put LISP payloads on the wire or in a capture.

    build_udp_packet("10.0.1.1", "10.0.1.254", 4342, 4342, payload)
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address, ip_address

from lispstack.capture.frames import IPAddress
from lispstack.wire.ip_udp import internet_checksum as internet_checksum

PROTO_UDP = 17
_IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")
_IPV6_HEADER = struct.Struct("!IHBB16s16s")
_UDP_HEADER = struct.Struct("!HHHH")


def _address(value: IPAddress | str) -> IPAddress:
    return ip_address(value) if isinstance(value, str) else value


def _pseudo_header(src: IPAddress, dst: IPAddress, length: int) -> bytes:
    if isinstance(src, IPv4Address):
        return src.packed + dst.packed + struct.pack("!BBH", 0, PROTO_UDP, length)
    return src.packed + dst.packed + struct.pack("!I3xB", length, PROTO_UDP)


def udp_checksum(src: IPAddress | str, dst: IPAddress | str, segment: bytes) -> int:
    """The checksum of a UDP `segment` (its checksum field counted as is) over the pseudo-header.

    A computed 0 is sent as 0xFFFF (RFC 768); for a segment whose checksum field
    is already filled in, 0 means the checksum is correct.
    """
    s, d = _same_family(src, dst)
    return internet_checksum(_pseudo_header(s, d, len(segment)) + segment)


def build_udp(
    src: IPAddress | str, dst: IPAddress | str, sport: int, dport: int, payload: bytes
) -> bytes:
    """A UDP header plus `payload`, with the checksum for that source and destination."""
    for name, port in (("source", sport), ("destination", dport)):
        if not 0 <= port <= 0xFFFF:
            raise ValueError(f"UDP {name} port {port} is not 0-65535")
    length = 8 + len(payload)
    if length > 0xFFFF:
        raise ValueError(f"UDP payload of {len(payload)} bytes does not fit a datagram")
    segment = _UDP_HEADER.pack(sport, dport, length, 0) + payload
    checksum = udp_checksum(src, dst, segment) or 0xFFFF
    return segment[:6] + checksum.to_bytes(2, "big") + segment[8:]


def build_ipv4(
    src: IPv4Address | str,
    dst: IPv4Address | str,
    protocol: int,
    payload: bytes,
    *,
    ttl: int = 64,
    identification: int = 0,
    tos: int = 0,
    dont_fragment: bool = True,
) -> bytes:
    """An IPv4 packet (20-byte header, header checksum filled in) carrying `payload`."""
    s, d = _same_family(src, dst)
    if not isinstance(s, IPv4Address) or not isinstance(d, IPv4Address):
        raise ValueError(f"IPv4 needs IPv4 addresses, not {s} and {d}")
    total = 20 + len(payload)
    if total > 0xFFFF:
        raise ValueError(f"IPv4 payload of {len(payload)} bytes does not fit a packet")
    flags = 0x4000 if dont_fragment else 0
    header = _IPV4_HEADER.pack(
        0x45, tos, total, identification, flags, ttl, protocol, 0, s.packed, d.packed
    )
    checksum = internet_checksum(header)
    return header[:10] + checksum.to_bytes(2, "big") + header[12:] + payload


def build_ipv6(
    src: IPv6Address | str,
    dst: IPv6Address | str,
    next_header: int,
    payload: bytes,
    *,
    hop_limit: int = 64,
    traffic_class: int = 0,
    flow_label: int = 0,
) -> bytes:
    """An IPv6 packet (40-byte header, no extension headers) carrying `payload`."""
    s, d = _same_family(src, dst)
    if not isinstance(s, IPv6Address) or not isinstance(d, IPv6Address):
        raise ValueError(f"IPv6 needs IPv6 addresses, not {s} and {d}")
    if len(payload) > 0xFFFF:
        raise ValueError(f"IPv6 payload of {len(payload)} bytes needs a jumbogram")
    first = (6 << 28) | ((traffic_class & 0xFF) << 20) | (flow_label & 0xFFFFF)
    header = _IPV6_HEADER.pack(first, len(payload), next_header, hop_limit, s.packed, d.packed)
    return header + payload


def build_udp_packet(
    src: IPAddress | str,
    dst: IPAddress | str,
    sport: int,
    dport: int,
    payload: bytes,
    *,
    ttl: int = 64,
) -> bytes:
    """An IPv4 or IPv6 packet (by the addresses' family) carrying one UDP datagram."""
    s, d = _same_family(src, dst)
    segment = build_udp(s, d, sport, dport, payload)
    if isinstance(s, IPv4Address) and isinstance(d, IPv4Address):
        return build_ipv4(s, d, PROTO_UDP, segment, ttl=ttl)
    assert isinstance(s, IPv6Address) and isinstance(d, IPv6Address)
    return build_ipv6(s, d, PROTO_UDP, segment, hop_limit=ttl)


def _same_family(src: IPAddress | str, dst: IPAddress | str) -> tuple[IPAddress, IPAddress]:
    s, d = _address(src), _address(dst)
    if s.version != d.version:
        raise ValueError(f"source {s} and destination {d} are of different IP versions")
    return s, d
