"""Encapsulated Control Message (RFC 9301 section 5.8).

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Type=8 |S|D|E|M|            Reserved                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                       IPv4 or IPv6 Header                     |
    |                  (uses RLOC or EID addresses)                 |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |       Source Port = xxxx      |       Dest Port = 4342        |
    |           UDP Length          |        UDP Checksum           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                       LISP Control Message                    |

S LISP-SEC, D sent by a DDT node, E to be forwarded to an ETR,
M to be forwarded to a Map-Server. The inner header is kept field by field
so that a forwarded ECM re-encodes to the very bytes that arrived.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any

from lispstack.capture.packets import internet_checksum
from lispstack.wire.buffer import Reader
from lispstack.wire.errors import BadLengthError, BadValueError, EncodeError
from lispstack.wire.message_type import MessageType

if TYPE_CHECKING:
    from lispstack.wire.control import ControlMessage

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_UDP = struct.Struct("!HHHH")
_S, _D, _E, _M = 1 << 27, 1 << 26, 1 << 25, 1 << 24
_PROTO_UDP = 17


@dataclass(frozen=True, slots=True, kw_only=True)
class Ecm:
    """An ECM: outer flags, the inner IP/UDP header, and the control message inside."""

    source: IPv4Address | IPv6Address
    destination: IPv4Address | IPv6Address
    source_port: int
    destination_port: int = 4342
    message: ControlMessage
    security: bool = False
    ddt: bool = False
    to_etr: bool = False
    to_ms: bool = False
    reserved: int = 0
    ttl: int = 64
    tos: int = 0
    ip_id: int = 0
    ip_flags: int = 0
    flow_label: int = 0
    udp_checksum: int | None = None
    """None computes the checksum on encode; a number is sent as is (0: none)."""

    def __post_init__(self) -> None:
        if self.source.version != self.destination.version:
            raise EncodeError("inner source and destination of different IP versions")
        for port in (self.source_port, self.destination_port):
            if not 0 <= port <= 0xFFFF:
                raise EncodeError(f"inner UDP port {port} out of range")
        if not 0 <= self.reserved <= 0xFFFFFF:
            raise EncodeError("ECM reserved bits must fit in 24 bits")
        if not (0 <= self.ttl <= 0xFF and 0 <= self.tos <= 0xFF):
            raise EncodeError("inner TTL and TOS are 8-bit values")
        if isinstance(self.source, IPv4Address):
            if self.flow_label or not (0 <= self.ip_id <= 0xFFFF and 0 <= self.ip_flags <= 0xFFFF):
                raise EncodeError("inner IPv4 header: 16-bit id and flags, no flow label")
        elif self.ip_id or self.ip_flags or not 0 <= self.flow_label <= 0xFFFFF:
            raise EncodeError("inner IPv6 header: 20-bit flow label, no IPv4 id or flags")
        if self.udp_checksum is not None and not 0 <= self.udp_checksum <= 0xFFFF:
            raise EncodeError("inner UDP checksum is a 16-bit value")

    def encode(self) -> bytes:
        return self.encode_around(self.message.encode())

    def encode_around(self, message: bytes) -> bytes:
        """The ECM around already-encoded message bytes."""
        first = (
            (MessageType.ECM << 28)
            | (_S if self.security else 0)
            | (_D if self.ddt else 0)
            | (_E if self.to_etr else 0)
            | (_M if self.to_ms else 0)
            | self.reserved
        )
        udp_length = 8 + len(message)
        udp = _UDP.pack(self.source_port, self.destination_port, udp_length, 0) + message
        checksum = self.udp_checksum
        if checksum is None:
            checksum = internet_checksum(self._pseudo_header(udp_length) + udp) or 0xFFFF
        udp = udp[:6] + checksum.to_bytes(2, "big") + udp[8:]
        return struct.pack("!I", first) + self._ip_header(udp_length) + udp

    def _pseudo_header(self, udp_length: int) -> bytes:
        if isinstance(self.source, IPv4Address):
            return (
                self.source.packed
                + self.destination.packed
                + struct.pack("!BBH", 0, _PROTO_UDP, udp_length)
            )
        return (
            self.source.packed
            + self.destination.packed
            + struct.pack("!I3xB", udp_length, _PROTO_UDP)
        )

    def _ip_header(self, udp_length: int) -> bytes:
        if isinstance(self.source, IPv4Address):
            header = _IPV4.pack(
                0x45,
                self.tos,
                20 + udp_length,
                self.ip_id,
                self.ip_flags,
                self.ttl,
                _PROTO_UDP,
                0,
                self.source.packed,
                self.destination.packed,
            )
            return header[:10] + internet_checksum(header).to_bytes(2, "big") + header[12:]
        first = (6 << 28) | (self.tos << 20) | self.flow_label
        return _IPV6.pack(
            first, udp_length, _PROTO_UDP, self.ttl, self.source.packed, self.destination.packed
        )

    @classmethod
    def decode_from(cls, r: Reader) -> Ecm:
        from lispstack.wire.control import decode_control_from

        start = r.pos
        first = r.u32("ecm.header")
        if first >> 28 != MessageType.ECM:
            raise BadValueError("not an ECM", field="type", offset=start)
        version = r.data[r.pos] >> 4 if r.remaining else 0
        if version == 4:
            fields = _decode_ipv4(r)
        elif version == 6:
            fields = _decode_ipv6(r)
        else:
            raise BadValueError(
                f"inner IP version {version}", field="ecm.inner.version", offset=r.pos
            )
        source, destination, ttl, tos, ip_id, ip_flags, flow_label, udp_length = fields
        udp_start = r.pos
        sport = r.u16("ecm.inner.udp.sport")
        dport = r.u16("ecm.inner.udp.dport")
        length = r.u16("ecm.inner.udp.length")
        checksum = r.u16("ecm.inner.udp.checksum")
        if length != udp_length or length < 8:
            raise BadLengthError(
                f"inner UDP length {length}, IP says {udp_length}",
                field="ecm.inner.udp.length",
                offset=udp_start + 4,
            )
        if checksum == 0 and version == 6:
            r.note("inner IPv6 UDP checksum is 0 (RFC 8200 forbids it)")
        inner = r.restrict(length - 8, "ecm.inner.udp.payload")
        if inner.remaining and inner.data[inner.pos] >> 4 == MessageType.ECM:
            raise BadValueError("an ECM inside an ECM", field="ecm.inner.type", offset=inner.pos)
        message = decode_control_from(inner)
        return cls(
            source=source,
            destination=destination,
            source_port=sport,
            destination_port=dport,
            message=message,
            security=bool(first & _S),
            ddt=bool(first & _D),
            to_etr=bool(first & _E),
            to_ms=bool(first & _M),
            reserved=first & 0xFFFFFF,
            ttl=ttl,
            tos=tos,
            ip_id=ip_id,
            ip_flags=ip_flags,
            flow_label=flow_label,
            udp_checksum=checksum,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "ecm",
            "security": self.security,
            "ddt": self.ddt,
            "to_etr": self.to_etr,
            "to_ms": self.to_ms,
            "inner": {
                "src": str(self.source),
                "dst": str(self.destination),
                "sport": self.source_port,
                "dport": self.destination_port,
                "message": self.message.to_json(),
            },
        }


_InnerFields = tuple[
    IPv4Address | IPv6Address, IPv4Address | IPv6Address, int, int, int, int, int, int
]


def _decode_ipv4(r: Reader) -> _InnerFields:
    start = r.pos
    r.take(20, "ecm.inner.ipv4")
    vihl, tos, total, ip_id, flags, ttl, proto, _csum, src, dst = _IPV4.unpack_from(r.data, start)
    if vihl != 0x45:
        raise BadValueError(
            "inner IPv4 header with options", field="ecm.inner.ipv4.ihl", offset=start
        )
    if proto != _PROTO_UDP:
        raise BadValueError(
            f"inner protocol {proto} is not UDP",
            field="ecm.inner.ipv4.protocol",
            offset=start + 9,
        )
    if total != r.end - start:
        raise BadLengthError(
            f"inner IPv4 total length {total}, {r.end - start} bytes present",
            field="ecm.inner.ipv4.total_length",
            offset=start + 2,
        )
    return IPv4Address(src), IPv4Address(dst), ttl, tos, ip_id, flags, 0, total - 20


def _decode_ipv6(r: Reader) -> _InnerFields:
    start = r.pos
    r.take(40, "ecm.inner.ipv6")
    first, payload_length, next_header, hop_limit, src, dst = _IPV6.unpack_from(r.data, start)
    if next_header != _PROTO_UDP:
        raise BadValueError(
            f"inner next header {next_header} is not UDP",
            field="ecm.inner.ipv6.next_header",
            offset=start + 6,
        )
    if payload_length != r.end - r.pos:
        raise BadLengthError(
            f"inner IPv6 payload length {payload_length}, {r.end - r.pos} bytes present",
            field="ecm.inner.ipv6.payload_length",
            offset=start + 4,
        )
    tos = (first >> 20) & 0xFF
    return (
        IPv6Address(src),
        IPv6Address(dst),
        hop_limit,
        tos,
        0,
        0,
        first & 0xFFFFF,
        payload_length,
    )
