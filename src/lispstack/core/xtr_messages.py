r"""The control messages an xTR builds and checks beyond Map-Request / Map-Reply.

Stop-gap until lispstack.wire has its Encapsulated Control Message,
Map-Register, Map-Notify and authentication codecs: the xTR works on the
raw datagram bytes here, so it does not depend on those classes' shapes.
(Replace by the wire/ codecs when they land; the byte layouts are the RFC's.)

ECM (RFC 9301 section 5.8):

    |Type=8 |S|D|E|M|            Reserved                           |
    |         inner IPv4 / IPv6 header, inner UDP header            |
    |                 LISP control message (Map-Request)            |

Map-Register (section 5.6) / Map-Notify (section 5.7):

    |Type=3 |P|S|I|        Reserved               |E|T|a|R|M| Rec Cnt |
    |Type=4 |I|R|          Reserved                         | Rec Cnt |
    |                         Nonce (64)                            |
    |   Key ID      |  Algorithm ID |  Authentication Data Length   |
    |                     Authentication Data                       |
    |                     Records ...                               |
    |      xTR-ID (128) and site-ID (64), when the I bit is set     |

Authentication: HMAC over the whole message with the authentication data
zeroed, the full digest on the wire (20 bytes SHA-1, 32 bytes SHA-256).
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from lispstack.capture.errors import NotUdpError
from lispstack.capture.ip_udp import parse_ip_udp
from lispstack.capture.packets import build_udp_packet
from lispstack.core.events import IPAddress
from lispstack.wire.errors import BadValueError, DecodeError, TruncatedError
from lispstack.wire.message_type import MessageType
from lispstack.wire.records import MappingRecord
from lispstack.wire.xtr_id import XtrId

ALGORITHMS: dict[int, tuple[str, int]] = {1: ("sha1", 20), 2: ("sha256", 32)}
"""Algorithm ID -> (hashlib name, digest length)."""
_AUTH_HEAD = struct.Struct("!QBBH")


@dataclass(frozen=True, slots=True)
class InnerControl:
    """The inside of an ECM: inner addresses and ports, and the LISP message bytes."""

    src: IPAddress
    dst: IPAddress
    sport: int
    dport: int
    message: bytes


def encode_ecm(src: IPAddress, dst: IPAddress, sport: int, dport: int, message: bytes) -> bytes:
    """An ECM carrying `message` in an inner IP/UDP packet src:sport -> dst:dport."""
    header = struct.pack("!I", MessageType.ECM << 28)
    return header + build_udp_packet(src, dst, sport, dport, message)


def decode_ecm(payload: bytes) -> InnerControl:
    if len(payload) < 4 or payload[0] >> 4 != MessageType.ECM:
        raise TruncatedError("not an ECM", field="ecm.header", offset=0)
    try:
        inner = parse_ip_udp(payload[4:])
    except NotUdpError as error:
        raise BadValueError(f"ECM inner packet: {error}", field="ecm.inner", offset=4) from None
    if not inner.complete:
        raise TruncatedError("ECM inner packet cut short", field="ecm.inner", offset=4)
    return InnerControl(inner.src, inner.dst, inner.sport, inner.dport, inner.payload)


def sign(message: bytearray, auth_offset: int, algorithm_id: int, key: str) -> None:
    """Fill the authentication data at `auth_offset` (currently zero) with the HMAC."""
    name, length = ALGORITHMS[algorithm_id]
    digest = hmac.new(key.encode(), bytes(message), name).digest()
    message[auth_offset : auth_offset + length] = digest


def encode_map_register(
    *,
    nonce: int,
    records: Sequence[MappingRecord],
    key_id: int,
    algorithm_id: int,
    key: str,
    proxy_reply: bool,
    want_map_notify: bool,
    xtr_id: XtrId | None,
) -> bytes:
    """A signed Map-Register."""
    _, auth_length = ALGORITHMS[algorithm_id]
    b0 = (MessageType.MAP_REGISTER << 4) | (proxy_reply << 3) | ((xtr_id is not None) << 1)
    head = struct.pack("!BBBB", b0, 0, int(want_map_notify), len(records))
    message = bytearray(
        head
        + _AUTH_HEAD.pack(nonce, key_id, algorithm_id, auth_length)
        + bytes(auth_length)
        + b"".join(r.encode() for r in records)
        + (xtr_id.encode() if xtr_id is not None else b"")
    )
    sign(message, 16, algorithm_id, key)
    return bytes(message)


@dataclass(frozen=True, slots=True)
class AuthenticatedHeader:
    """Nonce and authentication fields of a Map-Register / Map-Notify."""

    kind: int
    nonce: int
    key_id: int
    algorithm_id: int
    auth: bytes


def decode_auth_header(payload: bytes) -> AuthenticatedHeader:
    if len(payload) < 16:
        raise TruncatedError("need 16 bytes", field="header", offset=0)
    nonce, key_id, algorithm_id, auth_length = _AUTH_HEAD.unpack_from(payload, 4)
    if 16 + auth_length > len(payload):
        raise TruncatedError("authentication data", field="auth_data", offset=16)
    return AuthenticatedHeader(
        payload[0] >> 4, nonce, key_id, algorithm_id, payload[16 : 16 + auth_length]
    )


def verify(payload: bytes, key: str, algorithm_id: int) -> bool:
    """True when `payload` (Map-Register / Map-Notify) carries the right HMAC for `key`."""
    try:
        header = decode_auth_header(payload)
    except DecodeError:
        return False
    expected = ALGORITHMS.get(algorithm_id)
    if header.algorithm_id != algorithm_id or expected is None:
        return False
    name, length = expected
    if len(header.auth) != length:
        return False
    zeroed = payload[:16] + bytes(length) + payload[16 + length :]
    digest = hmac.new(key.encode(), zeroed, name).digest()
    return hmac.compare_digest(digest, header.auth)


__all__ = [
    "ALGORITHMS",
    "AuthenticatedHeader",
    "InnerControl",
    "decode_auth_header",
    "decode_ecm",
    "encode_ecm",
    "encode_map_register",
    "sign",
    "verify",
]
