"""Map-Reply (RFC 9301 section 5.4).

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|Type=2 |P|E|S|          Reserved               | Record Count  |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                         Nonce . . .                           |
|                         . . . Nonce                           |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                    Mapping records (records.py)               |
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from lispstack.wire.buffer import Reader
from lispstack.wire.errors import BadValueError, EncodeError
from lispstack.wire.message_type import MessageType, check_nonce, nonce_text
from lispstack.wire.records import MappingRecord

_HEAD = struct.Struct("!IQ")


@dataclass(frozen=True, slots=True, kw_only=True)
class MapReply:
    nonce: int
    records: tuple[MappingRecord, ...]
    probe: bool = False
    echo_nonce: bool = False
    security: bool = False
    reserved: int = 0

    def __post_init__(self) -> None:
        check_nonce(self.nonce)
        if len(self.records) > 255:
            raise EncodeError(f"{len(self.records)} records, at most 255")
        if not 0 <= self.reserved < 1 << 17:
            raise EncodeError("Map-Reply reserved bits must fit in 17 bits")

    def encode(self) -> bytes:
        first = (
            (MessageType.MAP_REPLY << 28)
            | (self.probe << 27)
            | (self.echo_nonce << 26)
            | (self.security << 25)
            | (self.reserved << 8)
            | len(self.records)
        )
        return _HEAD.pack(first, self.nonce) + b"".join(r.encode() for r in self.records)

    @classmethod
    def decode_from(cls, r: Reader) -> MapReply:
        start = r.pos
        r.take(12, "map_reply.header")
        first, nonce = _HEAD.unpack_from(r.data, start)
        if first >> 28 != MessageType.MAP_REPLY:
            raise BadValueError("not a Map-Reply", field="type", offset=start)
        records = tuple(MappingRecord.decode(r, f"record[{i}]") for i in range(first & 0xFF))
        return cls(
            nonce=nonce,
            records=records,
            probe=bool(first & (1 << 27)),
            echo_nonce=bool(first & (1 << 26)),
            security=bool(first & (1 << 25)),
            reserved=(first >> 8) & 0x1FFFF,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "map-reply",
            "nonce": nonce_text(self.nonce),
            "probe": self.probe,
            "echo_nonce": self.echo_nonce,
            "security": self.security,
            "records": [record.to_json() for record in self.records],
        }
