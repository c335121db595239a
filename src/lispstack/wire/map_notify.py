"""Map-Notify (type 4) and Map-Notify-Ack (type 5), RFC 9301 section 5.7.

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Type=4/5|I|R|             Reserved                | Record Count |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Nonce, Key ID, Algorithm ID, Authentication Data, records,   |
    |  xTR-ID and site-ID: see authenticated.py                     |

lispers.net appends the xTR-ID and site-ID without setting the I bit; that
is decoded (with a note) and `i_bit` keeps the bit as received so the
message re-encodes byte-identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from lispstack.wire.auth import AUTH_OFFSET, AlgorithmId, HmacKey
from lispstack.wire.authenticated import (
    check_authenticated,
    decode_authenticated,
    encode_authenticated,
    signed,
)
from lispstack.wire.buffer import Reader
from lispstack.wire.errors import EncodeError
from lispstack.wire.message_type import MessageType, nonce_text
from lispstack.wire.records import MappingRecord
from lispstack.wire.xtr_id import XtrId

_I, _R = 1 << 27, 1 << 26
_RESERVED = 0x03FFFF00


def notify_answering(register: bytes, *, i_bit: bool) -> bytes:
    """The Map-Notify answering a decoded, accepted Map-Register, unsigned.

    It carries the Map-Register's nonce, key id, algorithm and mapping records
    (RFC 9301 section 5.7), so they are copied as received instead of being
    encoded again, with the xTR-ID and site-ID after them when there are any;
    the authentication data is zeros, ready for signing.
    """
    auth_end = AUTH_OFFSET + int.from_bytes(register[14:16], "big")
    first = (MessageType.MAP_NOTIFY << 28) | (_I if i_bit else 0) | register[3]
    zeros = bytes(auth_end - AUTH_OFFSET)
    return first.to_bytes(4, "big") + register[4:AUTH_OFFSET] + zeros + register[auth_end:]


@dataclass(frozen=True, slots=True, kw_only=True)
class _NotifyBase:
    nonce: int
    records: tuple[MappingRecord, ...]
    key_id: int = 0
    algorithm: AlgorithmId = AlgorithmId.HMAC_SHA_256_128
    auth_data: bytes = b""
    i_bit: bool = False
    rtr: bool = False
    xtr_id: XtrId | None = None
    reserved: int = 0

    message_type = MessageType.MAP_NOTIFY

    def __post_init__(self) -> None:
        check_authenticated(self.nonce, self.key_id, self.algorithm, self.auth_data, self.records)
        if self.i_bit and self.xtr_id is None:
            raise EncodeError("the I bit announces an xTR-ID the message does not carry")
        if self.reserved & ~_RESERVED:
            raise EncodeError("Map-Notify reserved bits outside the reserved field")

    def encode(self) -> bytes:
        first = (
            (self.message_type << 28)
            | (_I if self.i_bit else 0)
            | (_R if self.rtr else 0)
            | self.reserved
        )
        return encode_authenticated(
            first,
            self.nonce,
            self.key_id,
            self.algorithm,
            self.auth_data,
            self.records,
            self.xtr_id,
        )

    def signed(self, key: HmacKey | bytes) -> tuple[Self, bytes]:
        """This message authenticated with `key`: the signed object and its bytes."""
        return signed(self, key)

    @classmethod
    def decode_from(cls, r: Reader) -> Self:
        body = decode_authenticated(r, cls.message_type, _I, xtr_id_without_i_bit=True)
        return cls(
            nonce=body.nonce,
            records=body.records,
            key_id=body.key_id,
            algorithm=body.algorithm,
            auth_data=body.auth_data,
            i_bit=bool(body.flags & _I),
            rtr=bool(body.flags & _R),
            xtr_id=body.xtr_id,
            reserved=body.flags & _RESERVED,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.message_type.label,
            "nonce": nonce_text(self.nonce),
            "xtr_id_present": self.i_bit,
            "rtr": self.rtr,
            "key_id": self.key_id,
            "algorithm": self.algorithm.label,
            "auth": "unchecked",
            "records": [record.to_json() for record in self.records],
        }
        if self.xtr_id is not None:
            out.update(self.xtr_id.to_json())
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class MapNotify(_NotifyBase):
    message_type = MessageType.MAP_NOTIFY


@dataclass(frozen=True, slots=True, kw_only=True)
class MapNotifyAck(_NotifyBase):
    message_type = MessageType.MAP_NOTIFY_ACK
