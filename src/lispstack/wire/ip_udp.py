"""A minimal IPv4 / IPv6 + UDP header codec, with the RFC 1071 checksums.

Used for the inner header of an Encapsulated Control Message (ecm.py): one
IP header without extension headers, one UDP header, then the payload.

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

`IpUdpHeader` keeps every field a forwarder must reproduce (TTL, TOS, IPv4
identification and flags, flow label, the UDP checksum as received) so a
decoded header re-encodes to the bytes that arrived. The IPv4 header
checksum is always computed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from lispstack.wire.buffer import Reader
from lispstack.wire.errors import BadLengthError, BadValueError, EncodeError

PROTO_UDP = 17
IPV4_HEADER_LENGTH = 20
IPV6_HEADER_LENGTH = 40
UDP_HEADER_LENGTH = 8
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_UDP = struct.Struct("!HHHH")
_PSEUDO_V4 = struct.Struct("!BBH")
_PSEUDO_V6 = struct.Struct("!I3xB")
_MORE_FRAGMENTS = 0x2000
_FRAGMENT_OFFSET = 0x1FFF

IPAddress = IPv4Address | IPv6Address


def internet_checksum(data: bytes) -> int:
    """The 16-bit one's complement of the one's complement sum of `data` (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    # 2**16 == 1 (mod 0xFFFF), so the sum of the 16-bit words is the number mod 0xFFFF;
    # a non-zero sum that is a multiple of 0xFFFF is 0xFFFF in one's complement.
    number = int.from_bytes(data, "big")
    total = 0 if number == 0 else (number % 0xFFFF or 0xFFFF)
    return 0xFFFF - total


def udp_checksum(src: IPAddress, dst: IPAddress, segment: bytes) -> int:
    """The checksum over the pseudo-header and a UDP `segment` (its checksum field as is).

    With the checksum field zeroed this is the value to send (send 0 as
    0xFFFF, RFC 768); with the field filled in, 0 means it is correct.
    """
    if isinstance(src, IPv4Address):
        pseudo = src.packed + dst.packed + _PSEUDO_V4.pack(0, PROTO_UDP, len(segment))
    else:
        pseudo = src.packed + dst.packed + _PSEUDO_V6.pack(len(segment), PROTO_UDP)
    return internet_checksum(pseudo + segment)


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
        for port in (self.sport, self.dport):
            if not 0 <= port <= 0xFFFF:
                raise EncodeError(f"UDP port {port} out of range")
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
        udp_length = UDP_HEADER_LENGTH + len(payload)
        v4 = isinstance(self.src, IPv4Address)
        if udp_length > (0xFFFF - IPV4_HEADER_LENGTH if v4 else 0xFFFF):
            raise EncodeError(f"a UDP payload of {len(payload)} bytes does not fit one packet")
        checksum = self.udp_checksum
        if checksum is None:
            segment = _UDP.pack(self.sport, self.dport, udp_length, 0) + payload
            checksum = udp_checksum(self.src, self.dst, segment) or 0xFFFF
        udp = _UDP.pack(self.sport, self.dport, udp_length, checksum)
        return self._ip_header(udp_length) + udp + payload

    def _ip_header(self, udp_length: int) -> bytes:
        if isinstance(self.src, IPv4Address):
            header = _IPV4.pack(
                0x45,
                self.tos,
                IPV4_HEADER_LENGTH + udp_length,
                self.ip_id,
                self.ip_flags,
                self.ttl,
                PROTO_UDP,
                0,
                self.src.packed,
                self.dst.packed,
            )
            return header[:10] + internet_checksum(header).to_bytes(2, "big") + header[12:]
        first = (6 << 28) | (self.tos << 20) | self.flow_label
        return _IPV6.pack(first, udp_length, PROTO_UDP, self.ttl, self.src.packed, self.dst.packed)

    @classmethod
    def decode_from(cls, r: Reader, field: str) -> tuple[IpUdpHeader, Reader]:
        """Read the headers; the packet must end where `r` ends.

        Returns the header and a reader over exactly the UDP payload. Checks
        the version, header length, protocol and that the IP and UDP lengths
        agree with the data; a wrong checksum or a fragment is only noted.
        """
        if not r.remaining:
            r.u8(f"{field}.version")  # raises TruncatedError
        version = r.data[r.pos] >> 4
        if version == 4:
            src, dst, fields, udp_length = _decode_ipv4(r, field)
        elif version == 6:
            src, dst, fields, udp_length = _decode_ipv6(r, field)
        else:
            raise BadValueError(f"IP version {version}", field=f"{field}.version", offset=r.pos)
        udp_start = r.pos
        r.take(UDP_HEADER_LENGTH, f"{field}.udp")
        sport, dport, length, checksum = _UDP.unpack_from(r.data, udp_start)
        if length != udp_length:
            raise BadLengthError(
                f"UDP length {length}, the IP header says {udp_length}",
                field=f"{field}.udp.length",
                offset=udp_start + 4,
            )
        if length < UDP_HEADER_LENGTH:
            raise BadLengthError(
                f"UDP length {length} is below 8", field=f"{field}.udp.length", offset=udp_start + 4
            )
        if checksum == 0:
            if version == 6:
                r.note(f"{field}: IPv6 UDP checksum is 0 (RFC 8200 forbids it)")
        elif udp_checksum(src, dst, r.data[udp_start : r.end]) != 0:
            r.note(f"{field}: UDP checksum 0x{checksum:04x} is wrong")
        header = cls(src=src, dst=dst, sport=sport, dport=dport, udp_checksum=checksum, **fields)
        return header, r.restrict(length - UDP_HEADER_LENGTH, f"{field}.udp.payload")


def _decode_ipv4(r: Reader, field: str) -> tuple[IPAddress, IPAddress, dict[str, int], int]:
    start = r.pos
    r.take(IPV4_HEADER_LENGTH, f"{field}.ipv4")
    vihl, tos, total, ip_id, flags, ttl, proto, _csum, src, dst = _IPV4.unpack_from(r.data, start)
    ihl = (vihl & 0x0F) * 4
    if ihl < IPV4_HEADER_LENGTH:
        raise BadValueError(f"IPv4 header length {ihl} < 20", field=f"{field}.ihl", offset=start)
    if ihl > IPV4_HEADER_LENGTH:
        r.take(ihl - IPV4_HEADER_LENGTH, f"{field}.ipv4.options")
        r.note(f"{field}: {ihl - IPV4_HEADER_LENGTH} bytes of IPv4 options skipped")
    if internet_checksum(r.data[start : start + ihl]) != 0:
        r.note(f"{field}: IPv4 header checksum is wrong")
    if flags & (_MORE_FRAGMENTS | _FRAGMENT_OFFSET):
        r.note(f"{field}: the IPv4 header says fragment (flags 0x{flags:04x})")
    if proto != PROTO_UDP:
        raise BadValueError(
            f"IPv4 protocol {proto} is not UDP", field=f"{field}.protocol", offset=start + 9
        )
    if total != r.end - start:
        raise BadLengthError(
            f"IPv4 total length {total}, {r.end - start} bytes present",
            field=f"{field}.total_length",
            offset=start + 2,
        )
    fields = {"ttl": ttl, "tos": tos, "ip_id": ip_id, "ip_flags": flags}
    return IPv4Address(src), IPv4Address(dst), fields, total - ihl


def _decode_ipv6(r: Reader, field: str) -> tuple[IPAddress, IPAddress, dict[str, int], int]:
    start = r.pos
    r.take(IPV6_HEADER_LENGTH, f"{field}.ipv6")
    first, payload_length, next_header, hop_limit, src, dst = _IPV6.unpack_from(r.data, start)
    if next_header != PROTO_UDP:
        raise BadValueError(
            f"IPv6 next header {next_header} is not UDP",
            field=f"{field}.next_header",
            offset=start + 6,
        )
    if payload_length != r.end - r.pos:
        raise BadLengthError(
            f"IPv6 payload length {payload_length}, {r.end - r.pos} bytes present",
            field=f"{field}.payload_length",
            offset=start + 4,
        )
    fields = {"ttl": hop_limit, "tos": (first >> 20) & 0xFF, "flow_label": first & 0xFFFFF}
    return IPv6Address(src), IPv6Address(dst), fields, payload_length
