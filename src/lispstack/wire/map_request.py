r"""Map-Request (RFC 9301 section 5.2).

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Type=1 |A|M|P|S|p|s|R|I|  Rsvd   |L|D|   IRC   | Record Count  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         Nonce . . .                           |
    |                         . . . Nonce                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |         Source-EID-AFI        |   Source EID Address  ...     |
    |         ITR-RLOC-AFI 1        |    ITR-RLOC Address 1  ...    |
    |                              ...                              |
    |         ITR-RLOC-AFI n        |    ITR-RLOC Address n  ...    |
  / |   Reserved    | EID mask-len  |        EID-Prefix-AFI         |
Rec +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
  \ |                       EID-Prefix  ...                         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                   Map-Reply Record  ...                       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    xTR-ID (128 bits, when I is set)           |
    |                    site-ID (64 bits, when I is set)           |

IRC is the ITR-RLOC count minus one. M says a Map-Reply record follows the
EID records; I (RFC 9437) says xTR-ID and site-ID end the message. R is
reserved and unassigned (RFC 9301: sent as 0, ignored on receipt; kept as
`reserved_r` so that a message decodes and encodes back to its bytes); the
subscription of RFC 9437 is the N bit of an EID record (EidRecord.subscribe).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from lispstack.wire.address import NO_ADDRESS, Address, decode_address, encode_address
from lispstack.wire.buffer import Reader
from lispstack.wire.errors import BadCountError, BadValueError, EncodeError
from lispstack.wire.message_type import MessageType, check_nonce, nonce_text
from lispstack.wire.records import EidRecord, MappingRecord
from lispstack.wire.xtr_id import XtrId, decode_xtr_id

_HEAD = struct.Struct("!BBBBQ")


@dataclass(frozen=True, slots=True, kw_only=True)
class MapRequest:
    nonce: int
    itr_rlocs: tuple[Address, ...]
    records: tuple[EidRecord, ...]
    source_eid: Address = NO_ADDRESS
    authoritative: bool = False
    probe: bool = False
    smr: bool = False
    pitr: bool = False
    smr_invoked: bool = False
    reserved_r: bool = False
    local_xtr: bool = False
    dont_map_reply: bool = False
    map_reply_record: MappingRecord | None = None
    xtr_id: XtrId | None = None
    reserved: int = 0

    def __post_init__(self) -> None:
        check_nonce(self.nonce)
        if not 1 <= len(self.itr_rlocs) <= 32:
            raise EncodeError(f"{len(self.itr_rlocs)} ITR-RLOCs, need 1 to 32")
        if not 1 <= len(self.records) <= 255:
            raise EncodeError(f"{len(self.records)} EID records, need 1 to 255")
        if not 0 <= self.reserved <= 0x1F:
            raise EncodeError("Map-Request reserved bits must fit in 5 bits")

    def encode(self) -> bytes:
        b0 = (
            (MessageType.MAP_REQUEST << 4)
            | (self.authoritative << 3)
            | ((self.map_reply_record is not None) << 2)
            | (self.probe << 1)
            | self.smr
        )
        b1 = (
            (self.pitr << 7)
            | (self.smr_invoked << 6)
            | (self.reserved_r << 5)
            | ((self.xtr_id is not None) << 4)
            | (self.reserved >> 1)
        )
        b2 = (
            ((self.reserved & 1) << 7)
            | (self.local_xtr << 6)
            | (self.dont_map_reply << 5)
            | (len(self.itr_rlocs) - 1)
        )
        parts = [
            _HEAD.pack(b0, b1, b2, len(self.records), self.nonce),
            encode_address(self.source_eid),
            *(encode_address(rloc) for rloc in self.itr_rlocs),
            *(record.encode() for record in self.records),
        ]
        if self.map_reply_record is not None:
            parts.append(self.map_reply_record.encode())
        if self.xtr_id is not None:
            parts.append(self.xtr_id.encode())
        return b"".join(parts)

    @classmethod
    def decode_from(cls, r: Reader) -> MapRequest:
        start = r.pos
        r.take(12, "map_request.header")
        b0, b1, b2, record_count, nonce = _HEAD.unpack_from(r.data, start)
        if b0 >> 4 != MessageType.MAP_REQUEST:
            raise BadValueError("not a Map-Request", field="type", offset=start)
        if record_count == 0:
            raise BadCountError("record count is 0", field="record_count", offset=start + 3)
        source_eid = decode_address(r, "source_eid")
        itr_rlocs = tuple(decode_address(r, f"itr_rloc[{i}]") for i in range((b2 & 0x1F) + 1))
        records = tuple(EidRecord.decode(r, f"record[{i}]") for i in range(record_count))
        map_reply_record = MappingRecord.decode(r, "map_reply_record") if b0 & 4 else None
        xtr_id = decode_xtr_id(r) if b1 & 0x10 else None
        return cls(
            nonce=nonce,
            itr_rlocs=itr_rlocs,
            records=records,
            source_eid=source_eid,
            authoritative=bool(b0 & 8),
            probe=bool(b0 & 2),
            smr=bool(b0 & 1),
            pitr=bool(b1 & 0x80),
            smr_invoked=bool(b1 & 0x40),
            reserved_r=bool(b1 & 0x20),
            local_xtr=bool(b2 & 0x40),
            dont_map_reply=bool(b2 & 0x20),
            map_reply_record=map_reply_record,
            xtr_id=xtr_id,
            reserved=((b1 & 0x0F) << 1) | (b2 >> 7),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "map-request",
            "nonce": nonce_text(self.nonce),
            "authoritative": self.authoritative,
            "map_data_present": self.map_reply_record is not None,
            "probe": self.probe,
            "smr": self.smr,
            "pitr": self.pitr,
            "smr_invoked": self.smr_invoked,
            "reserved_r": self.reserved_r,
            "local_xtr": self.local_xtr,
            "dont_map_reply": self.dont_map_reply,
            "source_eid": str(self.source_eid),
            "itr_rlocs": [str(a) for a in self.itr_rlocs],
            "records": [record.to_json() for record in self.records],
        }
        if self.map_reply_record is not None:
            out["map_reply_record"] = self.map_reply_record.to_json()
        if self.xtr_id is not None:
            out.update(self.xtr_id.to_json())
        return out
