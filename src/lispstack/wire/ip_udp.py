"""IPv4 / IPv6 / UDP headers, with the RFC 1071 checksums: lispstack's one codec for them.

The inner header of an Encapsulated Control Message (ecm.py), the outer
header of an encapsulated data packet (core/encapsulation.py, io), the
packets the capture reader takes apart and the ones tests and the lab build
all go through here.

IPv4 (RFC 791), 20 bytes without options:

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Version|  IHL  |Type of Service|          Total Length         |
    |         Identification        |Flags|      Fragment Offset    |
    |  Time to Live |    Protocol   |         Header Checksum       |
    |                       Source Address                          |
    |                    Destination Address                        |

IPv6 (RFC 8200), 40 bytes:

    |Version| Traffic Class |           Flow Label                  |
    |         Payload Length        |  Next Header  |   Hop Limit   |
    |                Source Address (128 bits)                      |
    |              Destination Address (128 bits)                   |

UDP (RFC 768):

    |          Source Port          |       Destination Port        |
    |            Length             |           Checksum            |

`decode_ip_header` reads the fixed header of either version and
`ipv6_upper_layer` walks IPv6 extension headers; `IpUdpHeader` is the strict
IP + UDP pair of an ECM, keeping every field a forwarder must reproduce (TTL,
TOS, IPv4 identification and flags, flow label, the UDP checksum as
received) so a decoded header re-encodes to the bytes that arrived.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

from lispstack.wire.buffer import Reader
from lispstack.wire.errors import (
    BadLengthError,
    BadValueError,
    EncodeError,
    TruncatedError,
)

PROTO_UDP = 17
IPV4_HEADER_LENGTH = 20
IPV6_HEADER_LENGTH = 40
UDP_HEADER_LENGTH = 8
DONT_FRAGMENT = 0x4000
MORE_FRAGMENTS = 0x2000
FRAGMENT_OFFSET = 0x1FFF
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_UDP = struct.Struct("!HHHH")
_IPV4_UDP = struct.Struct("!BBHHHBBH4s4sHHHH")
_PSEUDO_V4 = struct.Struct("!BBH")
_PSEUDO_V6 = struct.Struct("!I3xB")
_IPV6_EIGHT_OCTET_UNITS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT = 44
_IPV6_AH = 51

IPAddress = IPv4Address | IPv6Address


# ---------------------------------------------------------------- checksums


def internet_checksum(data: bytes) -> int:
    """The 16-bit one's complement of the one's complement sum of `data` (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    # 2**16 == 1 (mod 0xFFFF), so the sum of the 16-bit words is the number mod 0xFFFF;
    # a non-zero sum that is a multiple of 0xFFFF is 0xFFFF in one's complement.
    number = int.from_bytes(data, "big")
    total = 0 if number == 0 else (number % 0xFFFF or 0xFFFF)
    return 0xFFFF - total


def udp_checksum(src: IPAddress | str, dst: IPAddress | str, segment: bytes) -> int:
    """The checksum over the pseudo-header and a UDP `segment` (its checksum field as is).

    With the checksum field zeroed this is the value to send (send 0 as
    0xFFFF, RFC 768); with the field filled in, 0 means it is correct.
    """
    s, d = same_family(src, dst)
    if isinstance(s, IPv4Address):
        pseudo = s.packed + d.packed + _PSEUDO_V4.pack(0, PROTO_UDP, len(segment))
    else:
        pseudo = s.packed + d.packed + _PSEUDO_V6.pack(len(segment), PROTO_UDP)
    return internet_checksum(pseudo + segment)


def same_family(src: IPAddress | str, dst: IPAddress | str) -> tuple[IPAddress, IPAddress]:
    """The two addresses (parsed when given as text); EncodeError if their versions differ."""
    s = ip_address(src) if isinstance(src, str) else src
    d = ip_address(dst) if isinstance(dst, str) else dst
    if s.version != d.version:
        raise EncodeError(f"source {s} and destination {d} are of different IP versions")
    return s, d


# ---------------------------------------------------------------- encoding


def check_ports(*ports: int) -> None:
    """EncodeError unless every port is 0-65535."""
    for port in ports:
        if not 0 <= port <= 0xFFFF:
            raise EncodeError(f"UDP port {port} out of range")


def ipv4_header(
    src: IPv4Address,
    dst: IPv4Address,
    protocol: int,
    payload_length: int,
    *,
    ttl: int = 64,
    tos: int = 0,
    ip_id: int = 0,
    ip_flags: int = 0,
) -> bytes:
    """A 20-byte IPv4 header with its checksum; `ip_flags` is flags and fragment offset."""
    total = IPV4_HEADER_LENGTH + payload_length
    if total > 0xFFFF:
        raise EncodeError(f"an IPv4 payload of {payload_length} bytes does not fit a packet")
    header = _IPV4.pack(0x45, tos, total, ip_id, ip_flags, ttl, protocol, 0, src.packed, dst.packed)
    return header[:10] + internet_checksum(header).to_bytes(2, "big") + header[12:]


def ipv6_header(
    src: IPv6Address,
    dst: IPv6Address,
    next_header: int,
    payload_length: int,
    *,
    hop_limit: int = 64,
    traffic_class: int = 0,
    flow_label: int = 0,
) -> bytes:
    """A 40-byte IPv6 header (no extension headers)."""
    if payload_length > 0xFFFF:
        raise EncodeError(f"an IPv6 payload of {payload_length} bytes needs a jumbogram")
    first = (6 << 28) | (traffic_class << 20) | flow_label
    return _IPV6.pack(first, payload_length, next_header, hop_limit, src.packed, dst.packed)


def udp_segment(
    src: IPAddress,
    dst: IPAddress,
    sport: int,
    dport: int,
    payload: bytes,
    checksum: int | None = None,
) -> bytes:
    """A UDP header and `payload`; a `checksum` of None is computed (and sent as 0xFFFF if 0)."""
    udp_length = UDP_HEADER_LENGTH + len(payload)
    if udp_length > 0xFFFF:
        raise EncodeError(f"a UDP payload of {len(payload)} bytes does not fit one datagram")
    if checksum is None:
        segment = _UDP.pack(sport, dport, udp_length, 0) + payload
        checksum = udp_checksum(src, dst, segment) or 0xFFFF
    return _UDP.pack(sport, dport, udp_length, checksum) + payload


def ipv4_udp_unchecked(
    src: bytes, dst: bytes, sport: int, dport: int, payload: bytes, ttl: int = 64
) -> bytes:
    """IPv4 (DF set, header checksum 0) and UDP (checksum 0) around `payload`.

    The data-plane hot path, for a raw IP_HDRINCL socket, where the kernel
    fills in the IPv4 header checksum (raw(7)); `src` and `dst` are the
    packed addresses, nothing is validated. Byte for byte the general
    codec's IpUdpHeader(..., ip_flags=DONT_FRAGMENT, udp_checksum=0) but for
    the header checksum (a test compares them).
    """
    length = len(payload)
    return _IPV4_UDP.pack(
        0x45, 0, 28 + length, 0, DONT_FRAGMENT, ttl, PROTO_UDP, 0, src, dst,
        sport, dport, 8 + length, 0,
    ) + payload  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class IpUdpHeader:
    """One IPv4 or IPv6 header (no options, no extension headers) and a UDP header."""

    src: IPAddress
    dst: IPAddress
    sport: int
    dport: int
    ttl: int = 64
    """IPv4 TTL or IPv6 hop limit."""
    tos: int = 0
    """IPv4 type of service or IPv6 traffic class."""
    ip_id: int = 0
    ip_flags: int = 0
    """IPv4 flags and fragment offset, the 16 bits as sent."""
    flow_label: int = 0
    udp_checksum: int | None = None
    """None computes the checksum on encode; a number is sent as is (0: none)."""

    def __post_init__(self) -> None:
        if self.src.version != self.dst.version:
            raise EncodeError("IP source and destination of different versions")
        check_ports(self.sport, self.dport)
        if not (0 <= self.ttl <= 0xFF and 0 <= self.tos <= 0xFF):
            raise EncodeError("TTL and TOS are 8-bit values")
        if isinstance(self.src, IPv4Address):
            if self.flow_label or not (0 <= self.ip_id <= 0xFFFF and 0 <= self.ip_flags <= 0xFFFF):
                raise EncodeError("IPv4 header: 16-bit id and flags, no flow label")
        elif self.ip_id or self.ip_flags or not 0 <= self.flow_label <= 0xFFFFF:
            raise EncodeError("IPv6 header: 20-bit flow label, no IPv4 id or flags")
        if self.udp_checksum is not None and not 0 <= self.udp_checksum <= 0xFFFF:
            raise EncodeError("UDP checksum is a 16-bit value")

    def encode(self, payload: bytes) -> bytes:
        """The IP packet carrying `payload` in one UDP datagram."""
        segment = udp_segment(
            self.src, self.dst, self.sport, self.dport, payload, self.udp_checksum
        )
        udp_length = len(segment)
        src, dst = self.src, self.dst
        if isinstance(src, IPv4Address) and isinstance(dst, IPv4Address):
            ip = ipv4_header(
                src, dst, PROTO_UDP, udp_length,
                ttl=self.ttl, tos=self.tos, ip_id=self.ip_id, ip_flags=self.ip_flags,
            )  # fmt: skip
        else:
            assert isinstance(src, IPv6Address) and isinstance(dst, IPv6Address)
            ip = ipv6_header(
                src, dst, PROTO_UDP, udp_length,
                hop_limit=self.ttl, traffic_class=self.tos, flow_label=self.flow_label,
            )  # fmt: skip
        return ip + segment

    @classmethod
    def decode_from(cls, r: Reader, field: str) -> tuple[IpUdpHeader, Reader]:
        """Read the headers; the packet must end where `r` ends.

        Returns the header and a reader over exactly the UDP payload. Checks
        the version, header length, protocol and that the IP and UDP lengths
        agree with the data; a wrong checksum, IPv4 options or a fragment are
        only noted.
        """
        start = r.pos
        ip = decode_ip_header(r.data, start, r.end, field)
        r.take(ip.header_length, f"{field}.ipv{ip.version}")
        v4 = ip.version == 4
        if ip.protocol != PROTO_UDP:
            name = "protocol" if v4 else "next_header"
            raise BadValueError(
                f"IPv{ip.version} {name.replace('_', ' ')} {ip.protocol} is not UDP",
                field=f"{field}.{name}",
                offset=start + (9 if v4 else 6),
            )
        if ip.total_length != r.end - start:
            name = "total_length" if v4 else "payload_length"
            declared = ip.total_length if v4 else ip.total_length - IPV6_HEADER_LENGTH
            present = r.end - start if v4 else r.end - r.pos
            raise BadLengthError(
                f"IPv{ip.version} {name.replace('_', ' ')} {declared}, {present} bytes present",
                field=f"{field}.{name}",
                offset=start + (2 if v4 else 4),
            )
        if v4:
            _note_ipv4_oddities(r, ip, start, field)
        udp_start = r.pos
        sport, dport, length, checksum = decode_udp_header(r.data, udp_start, r.end, f"{field}.udp")
        r.take(UDP_HEADER_LENGTH, f"{field}.udp")
        udp_length = ip.total_length - ip.header_length
        if length != udp_length:
            raise BadLengthError(
                f"UDP length {length}, the IP header says {udp_length}",
                field=f"{field}.udp.length",
                offset=udp_start + 4,
            )
        if checksum == 0:
            if not v4:
                r.note(f"{field}: IPv6 UDP checksum is 0 (RFC 8200 forbids it)")
        elif udp_checksum(ip.src, ip.dst, r.data[udp_start : r.end]) != 0:
            r.note(f"{field}: UDP checksum 0x{checksum:04x} is wrong")
        header = cls(
            src=ip.src,
            dst=ip.dst,
            sport=sport,
            dport=dport,
            ttl=ip.ttl,
            tos=ip.tos,
            ip_id=ip.ip_id,
            ip_flags=ip.ip_flags,
            flow_label=ip.flow_label,
            udp_checksum=checksum,
        )
        return header, r.restrict(length - UDP_HEADER_LENGTH, f"{field}.udp.payload")


def _note_ipv4_oddities(r: Reader, ip: IpHeader, start: int, field: str) -> None:
    if ip.header_length > IPV4_HEADER_LENGTH:
        r.note(f"{field}: {ip.header_length - IPV4_HEADER_LENGTH} bytes of IPv4 options skipped")
    if internet_checksum(r.data[start : start + ip.header_length]) != 0:
        r.note(f"{field}: IPv4 header checksum is wrong")
    if ip.ip_flags & (MORE_FRAGMENTS | FRAGMENT_OFFSET):
        r.note(f"{field}: the IPv4 header says fragment (flags 0x{ip.ip_flags:04x})")


# ---------------------------------------------------------------- building whole packets


def build_udp(
    src: IPAddress | str, dst: IPAddress | str, sport: int, dport: int, payload: bytes
) -> bytes:
    """A UDP header plus `payload`, with the checksum for that source and destination."""
    check_ports(sport, dport)
    return udp_segment(*same_family(src, dst), sport, dport, payload)


def build_udp_packet(
    src: IPAddress | str,
    dst: IPAddress | str,
    sport: int,
    dport: int,
    payload: bytes,
    *,
    ttl: int = 64,
) -> bytes:
    """An IPv4 (DF set) or IPv6 packet, by the addresses' family, carrying one UDP datagram."""
    s, d = same_family(src, dst)
    flags = DONT_FRAGMENT if s.version == 4 else 0
    return IpUdpHeader(src=s, dst=d, sport=sport, dport=dport, ttl=ttl, ip_flags=flags).encode(
        payload
    )


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
    s, d = same_family(src, dst)
    if not isinstance(s, IPv4Address) or not isinstance(d, IPv4Address):
        raise EncodeError(f"IPv4 needs IPv4 addresses, not {s} and {d}")
    flags = DONT_FRAGMENT if dont_fragment else 0
    header = ipv4_header(
        s, d, protocol, len(payload), ttl=ttl, tos=tos, ip_id=identification, ip_flags=flags
    )
    return header + payload


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
    s, d = same_family(src, dst)
    if not isinstance(s, IPv6Address) or not isinstance(d, IPv6Address):
        raise EncodeError(f"IPv6 needs IPv6 addresses, not {s} and {d}")
    header = ipv6_header(
        s,
        d,
        next_header,
        len(payload),
        hop_limit=hop_limit,
        traffic_class=traffic_class & 0xFF,
        flow_label=flow_label & 0xFFFFF,
    )
    return header + payload


# ---------------------------------------------------------------- decoding


@dataclass(frozen=True, slots=True)
class IpHeader:
    """The fixed header of an IPv4 or IPv6 packet, as `decode_ip_header` reads it."""

    version: int
    src: IPAddress
    dst: IPAddress
    protocol: int
    """The IPv4 protocol or the IPv6 next header."""
    header_length: int
    """IHL * 4 for IPv4 (options included), 40 for IPv6."""
    total_length: int
    """The packet's length by its header: IPv4 total length, or 40 + IPv6 payload length."""
    ttl: int
    tos: int
    ip_id: int = 0
    ip_flags: int = 0
    """IPv4 flags and fragment offset, the 16 bits as sent."""
    flow_label: int = 0

    @property
    def fragment_offset(self) -> int:
        """Where an IPv4 fragment's data belongs in its datagram, in bytes."""
        return (self.ip_flags & FRAGMENT_OFFSET) * 8

    @property
    def more_fragments(self) -> bool:
        return bool(self.ip_flags & MORE_FRAGMENTS)


def decode_ip_header(
    data: bytes, start: int = 0, end: int | None = None, field: str = "ip"
) -> IpHeader:
    """The IPv4 or IPv6 header at `data[start:end]`; the packet may run past `end` or stop short.

    Only the header itself must be present: comparing `total_length` with
    the bytes there is the caller's choice (a capture may be cut short by
    its snap length, a datagram may not).
    """
    end = len(data) if end is None else end
    present = end - start
    if present < 1:
        raise TruncatedError("empty IP packet", field=f"{field}.version", offset=start)
    version = data[start] >> 4
    if version == 4:
        if present < IPV4_HEADER_LENGTH:
            raise TruncatedError(
                f"truncated IPv4 header: {present} of 20 bytes", field=f"{field}.ipv4", offset=start
            )
        vihl, tos, total, ip_id, flags, ttl, protocol, _, src, dst = _IPV4.unpack_from(data, start)
        ihl = (vihl & 0x0F) * 4
        if ihl < IPV4_HEADER_LENGTH:
            raise BadValueError(
                f"IPv4 header length {ihl} is below 20", field=f"{field}.ihl", offset=start
            )
        if present < ihl:
            raise TruncatedError(
                f"truncated IPv4 header: {present} of {ihl} bytes",
                field=f"{field}.ipv4.options",
                offset=start,
            )
        if total < ihl:
            raise BadLengthError(
                f"IPv4 total length {total} is below the header length {ihl}",
                field=f"{field}.total_length",
                offset=start + 2,
            )
        return IpHeader(
            4, IPv4Address(src), IPv4Address(dst), protocol, ihl, total, ttl, tos, ip_id, flags
        )
    if version == 6:
        if present < IPV6_HEADER_LENGTH:
            raise TruncatedError(
                f"truncated IPv6 header: {present} of 40 bytes", field=f"{field}.ipv6", offset=start
            )
        first, length, next_header, hop_limit, src, dst = _IPV6.unpack_from(data, start)
        return IpHeader(
            6,
            IPv6Address(src),
            IPv6Address(dst),
            next_header,
            IPV6_HEADER_LENGTH,
            IPV6_HEADER_LENGTH + length,
            hop_limit,
            (first >> 20) & 0xFF,
            flow_label=first & 0xFFFFF,
        )
    raise BadValueError(
        f"IP version {version} is neither 4 nor 6", field=f"{field}.version", offset=start
    )


@dataclass(frozen=True, slots=True)
class Ipv6Fragment:
    """An IPv6 fragment header: where this fragment's data belongs, and the datagram's id."""

    offset: int
    more: bool
    ident: int


def ipv6_upper_layer(
    data: bytes, start: int, end: int, next_header: int, field: str = "ip"
) -> tuple[int, int, Ipv6Fragment | None]:
    """Skip the IPv6 extension headers that begin at `start` with type `next_header`.

    Returns the upper-layer protocol, where its header starts, and the
    fragment header if there was one. Hop-by-hop, routing, destination
    options, authentication and fragment headers are skipped; a fragment
    other than the first ends the walk (what follows is not a header).
    """
    pos, fragment = start, None
    while next_header in _IPV6_EIGHT_OCTET_UNITS or next_header in (_IPV6_AH, _IPV6_FRAGMENT):
        if next_header == _IPV6_FRAGMENT:
            if end - pos < 8:
                raise TruncatedError(
                    "truncated IPv6 fragment header", field=f"{field}.fragment", offset=pos
                )
            bits = int.from_bytes(data[pos + 2 : pos + 4], "big")
            ident = int.from_bytes(data[pos + 4 : pos + 8], "big")
            fragment = Ipv6Fragment(bits & 0xFFF8, bool(bits & 1), ident)
            next_header, pos = data[pos], pos + 8
            if fragment.offset:
                break
            continue
        if end - pos < 2:
            raise TruncatedError(
                f"truncated IPv6 extension header {next_header}",
                field=f"{field}.extension",
                offset=pos,
            )
        unit, extra = (4, 2) if next_header == _IPV6_AH else (8, 1)
        next_header, pos = data[pos], pos + (data[pos + 1] + extra) * unit
        if pos > end:
            raise BadLengthError(
                "IPv6 extension header runs past the packet", field=f"{field}.extension", offset=pos
            )
    return next_header, pos, fragment


def decode_udp_header(
    data: bytes, start: int, end: int, field: str = "udp"
) -> tuple[int, int, int, int]:
    """(source port, destination port, length, checksum) of the UDP header at `start`.

    The length must cover the header; the datagram may run past `end` or stop short.
    """
    present = end - start
    if present < UDP_HEADER_LENGTH:
        raise TruncatedError(
            f"truncated UDP header: {present} of 8 bytes", field=field, offset=start
        )
    sport, dport, length, checksum = _UDP.unpack_from(data, start)
    if length < UDP_HEADER_LENGTH:
        raise BadLengthError(
            f"UDP length {length} is below 8", field=f"{field}.length", offset=start + 4
        )
    return sport, dport, length, checksum
