"""Map-Register (RFC 9301 section 5.6).

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Type=3 |P|S|I|        Reserved         |E|T|a|R|M| Record Count  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Nonce, Key ID, Algorithm ID, Authentication Data, records,   |
    |  xTR-ID and site-ID: see authenticated.py                     |

P proxy-reply, S LISP-SEC capable, I xTR-ID present, E EID-notify,
T use the record TTL as registration timeout, a merge request,
R built for an RTR, M want-map-notify.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lispstack.wire.auth import AlgorithmId, HmacKey
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

_P, _S, _I = 1 << 27, 1 << 26, 1 << 25
_E, _T, _A, _R, _M = 1 << 12, 1 << 11, 1 << 10, 1 << 9, 1 << 8
_RESERVED = 0x01FFE000


@dataclass(frozen=True, slots=True, kw_only=True)
class MapRegister:
    nonce: int
    records: tuple[MappingRecord, ...]
    key_id: int = 0
    algorithm: AlgorithmId = AlgorithmId.HMAC_SHA_256_128
    auth_data: bytes = b""
    proxy_reply: bool = False
    security: bool = False
    eid_notify: bool = False
    use_ttl_for_timeout: bool = False
    merge_request: bool = False
    rtr: bool = False
    want_map_notify: bool = False
    xtr_id: XtrId | None = None
    reserved: int = 0

    def __post_init__(self) -> None:
        check_authenticated(self.nonce, self.key_id, self.algorithm, self.auth_data, self.records)
        if self.reserved & ~_RESERVED:
            raise EncodeError("Map-Register reserved bits outside the reserved field")

    def encode(self) -> bytes:
        first = (
            (MessageType.MAP_REGISTER << 28)
            | (_P if self.proxy_reply else 0)
            | (_S if self.security else 0)
            | (_I if self.xtr_id is not None else 0)
            | (_E if self.eid_notify else 0)
            | (_T if self.use_ttl_for_timeout else 0)
            | (_A if self.merge_request else 0)
            | (_R if self.rtr else 0)
            | (_M if self.want_map_notify else 0)
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

    def signed(self, key: HmacKey | bytes) -> tuple[MapRegister, bytes]:
        """This message authenticated with `key`: the signed object and its bytes."""
        return signed(self, key)

    @classmethod
    def decode_from(cls, r: Reader) -> MapRegister:
        body = decode_authenticated(r, MessageType.MAP_REGISTER, _I)
        flags = body.flags
        return cls(
            nonce=body.nonce,
            records=body.records,
            key_id=body.key_id,
            algorithm=body.algorithm,
            auth_data=body.auth_data,
            proxy_reply=bool(flags & _P),
            security=bool(flags & _S),
            eid_notify=bool(flags & _E),
            use_ttl_for_timeout=bool(flags & _T),
            merge_request=bool(flags & _A),
            rtr=bool(flags & _R),
            want_map_notify=bool(flags & _M),
            xtr_id=body.xtr_id,
            reserved=flags & _RESERVED,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "map-register",
            "nonce": nonce_text(self.nonce),
            "proxy_reply": self.proxy_reply,
            "security": self.security,
            "eid_notify": self.eid_notify,
            "use_ttl_for_timeout": self.use_ttl_for_timeout,
            "merge_request": self.merge_request,
            "rtr": self.rtr,
            "want_map_notify": self.want_map_notify,
            "key_id": self.key_id,
            "algorithm": self.algorithm.label,
            "auth": "unchecked",
            "records": [record.to_json() for record in self.records],
        }
        if self.xtr_id is not None:
            out.update(self.xtr_id.to_json())
        return out
