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

S LISP-SEC, D DDT-originated (set by a DDT client, RFC 8111 section 5),
E to be forwarded to an ETR, M to be forwarded to a Map-Server. The inner IP
and UDP headers (ip_udp.py) are kept field by field so that a forwarded ECM
re-encodes to the very bytes that arrived.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING, Any

from lispstack.wire.buffer import Reader
from lispstack.wire.errors import BadValueError, EncodeError
from lispstack.wire.ip_udp import IpUdpHeader
from lispstack.wire.message_type import MessageType

if TYPE_CHECKING:
    from lispstack.wire.control import ControlMessage

_FIRST = struct.Struct("!I")
_S, _D, _E, _M = 1 << 27, 1 << 26, 1 << 25, 1 << 24


def with_ddt_flag(ecm: bytes) -> bytes:
    """The encoded ECM `ecm` with its D (DDT-originated) flag set, otherwise unchanged."""
    return bytes((ecm[0] | _D >> 24,)) + ecm[1:]


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
    inner_header: IpUdpHeader = field(init=False, repr=False, compare=False)
    """The inner IP and UDP header these fields describe (validated on construction)."""

    def __post_init__(self) -> None:
        if not 0 <= self.reserved <= 0xFFFFFF:
            raise EncodeError("ECM reserved bits must fit in 24 bits")
        if isinstance(self.message, Ecm):
            raise EncodeError("an ECM cannot carry another ECM")
        header = IpUdpHeader(
            src=self.source,
            dst=self.destination,
            sport=self.source_port,
            dport=self.destination_port,
            ttl=self.ttl,
            tos=self.tos,
            ip_id=self.ip_id,
            ip_flags=self.ip_flags,
            flow_label=self.flow_label,
            udp_checksum=self.udp_checksum,
        )
        object.__setattr__(self, "inner_header", header)

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
        return _FIRST.pack(first) + self.inner_header.encode(message)

    @classmethod
    def decode_from(cls, r: Reader) -> Ecm:
        from lispstack.wire.control import decode_control_from

        start = r.pos
        first = r.u32("ecm.header")
        if first >> 28 != MessageType.ECM:
            raise BadValueError("not an ECM", field="type", offset=start)
        header, inner = IpUdpHeader.decode_from(r, "ecm.inner")
        if inner.remaining and inner.data[inner.pos] >> 4 == MessageType.ECM:
            raise BadValueError("an ECM inside an ECM", field="ecm.inner.type", offset=inner.pos)
        message = decode_control_from(inner)
        return cls(
            source=header.src,
            destination=header.dst,
            source_port=header.sport,
            destination_port=header.dport,
            message=message,
            security=bool(first & _S),
            ddt=bool(first & _D),
            to_etr=bool(first & _E),
            to_ms=bool(first & _M),
            reserved=first & 0xFFFFFF,
            ttl=header.ttl,
            tos=header.tos,
            ip_id=header.ip_id,
            ip_flags=header.ip_flags,
            flow_label=header.flow_label,
            udp_checksum=header.udp_checksum,
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
