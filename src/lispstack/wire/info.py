"""Info-Request and Info-Reply (NAT traversal, RFC 9301 section 5.1 type 7; RFC 9735).

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Type=7 |R|               Reserved                              |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         Nonce (64)                            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |    Key ID     | Algorithm ID  |  Authentication Data Length   |
    ~                     Authentication Data                       ~
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                              TTL                              |
    |   Reserved    | EID mask-len  |        EID-prefix-AFI         |
    |                          EID-prefix                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |   AFI = 0 (request)  /  NAT-traversal LCAF (reply)            |

R is 0 for an Info-Request and 1 for an Info-Reply.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from lispstack.wire.address import (
    NO_ADDRESS,
    Address,
    DistinguishedName,
    NatTraversal,
    check_decoded_mask,
    check_mask_len,
    decode_address,
    encode_address,
)
from lispstack.wire.auth import AlgorithmId
from lispstack.wire.authenticated import (
    check_auth_fields,
    decode_auth_header,
    encode_auth_header,
)
from lispstack.wire.buffer import Reader
from lispstack.wire.errors import BadValueError, EncodeError
from lispstack.wire.message_type import MessageType, check_nonce, nonce_text

_BODY = struct.Struct("!IBB")
_R = 1 << 27


@dataclass(frozen=True, slots=True, kw_only=True)
class _InfoBase:
    nonce: int
    eid: Address
    eid_mask_len: int
    ttl: int = 0
    key_id: int = 0
    algorithm: AlgorithmId = AlgorithmId.NONE
    auth_data: bytes = b""
    reserved: int = 0
    eid_reserved: int = 0
    """The reserved byte in front of the EID mask-len."""

    is_reply = False

    def __post_init__(self) -> None:
        check_nonce(self.nonce)
        check_auth_fields(self.key_id, self.algorithm, self.auth_data)
        check_mask_len(self.eid, self.eid_mask_len)
        if not 0 <= self.ttl <= 0xFFFFFFFF:
            raise EncodeError("Info TTL does not fit in 32 bits")
        if not 0 <= self.reserved <= 0x07FFFFFF:
            raise EncodeError("Info reserved bits must fit in 27 bits")
        if not 0 <= self.eid_reserved <= 0xFF:
            raise EncodeError("Info EID reserved byte must fit in 8 bits")

    def _tail(self) -> Address:
        return NO_ADDRESS

    def encode(self) -> bytes:
        first = (MessageType.INFO << 28) | (_R if self.is_reply else 0) | self.reserved
        return b"".join(
            (
                encode_auth_header(first, self.nonce, self.key_id, self.algorithm, self.auth_data),
                _BODY.pack(self.ttl, self.eid_reserved, self.eid_mask_len),
                encode_address(self.eid),
                encode_address(self._tail()),
            )
        )

    def _json(self) -> dict[str, Any]:
        return {
            "type": "info-reply" if self.is_reply else "info-request",
            "nonce": nonce_text(self.nonce),
            "key_id": self.key_id,
            "algorithm": self.algorithm.label,
            "ttl": self.ttl,
            "eid": f"{self.eid}/{self.eid_mask_len}",
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class InfoRequest(_InfoBase):
    """`node_name`: lispers.net sends its hostname where RFC 9735 has AFI 0."""

    node_name: DistinguishedName | None = None

    is_reply = False

    def _tail(self) -> Address:
        return NO_ADDRESS if self.node_name is None else self.node_name

    def to_json(self) -> dict[str, Any]:
        out = self._json()
        if self.node_name is not None:
            out["node_name"] = self.node_name.name
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class InfoReply(_InfoBase):
    nat: NatTraversal

    is_reply = True

    def _tail(self) -> Address:
        return self.nat

    def to_json(self) -> dict[str, Any]:
        nat = self.nat
        return {
            **self._json(),
            "ms_udp_port": nat.ms_udp_port,
            "etr_udp_port": nat.etr_udp_port,
            "global_etr_rloc": str(nat.global_etr_rloc),
            "ms_rloc": str(nat.ms_rloc),
            "private_etr_rloc": str(nat.private_etr_rloc),
            "rtr_rlocs": [str(a) for a in nat.rtr_rlocs],
        }


def decode_info_from(r: Reader) -> InfoRequest | InfoReply:
    head = decode_auth_header(r, MessageType.INFO)
    first = head.first
    body = r.pos
    r.take(_BODY.size, "info.ttl")
    ttl, eid_reserved, mask_len = _BODY.unpack_from(r.data, body)
    eid = decode_address(r, "info.eid")
    check_decoded_mask(eid, mask_len, "info.eid_mask_len", body + 5)
    fields: dict[str, Any] = {
        "nonce": head.nonce,
        "eid": eid,
        "eid_mask_len": mask_len,
        "ttl": ttl,
        "key_id": head.key_id,
        "algorithm": head.algorithm,
        "auth_data": head.auth_data,
        "reserved": first & 0x07FFFFFF,
        "eid_reserved": eid_reserved,
    }
    tail_at = r.pos
    tail = decode_address(r, "info.nat")
    if first & _R:
        if not isinstance(tail, NatTraversal):
            raise BadValueError(
                "Info-Reply without a NAT-traversal LCAF", field="info.nat", offset=tail_at
            )
        return InfoReply(nat=tail, **fields)
    if isinstance(tail, DistinguishedName):
        r.note("Info-Request ends with a distinguished name instead of AFI 0 (lispers.net)")
        return InfoRequest(node_name=tail, **fields)
    if tail != NO_ADDRESS:
        raise BadValueError("Info-Request must end with AFI 0", field="info.afi", offset=tail_at)
    return InfoRequest(**fields)
