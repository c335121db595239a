r"""Map-Referral (LISP-DDT, RFC 8111 section 6.4).

         0                   1                   2                   3
         0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |Type=6 |                Reserved               | Record Count  |
        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        |                         Nonce . . .                           |
        |                         . . . Nonce                           |
    +-> +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |   |                          Record TTL                           |
    |   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    R   | Referral Count| EID mask-len  | ACT |A|I|     Reserved        |
    e   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    c   |SigCnt |   Map Version Number  |            EID-AFI            |
    o   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    r   |                          EID-Prefix ...                       |
    d   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  /|    Priority   |    Weight     |  M Priority   |   M Weight    |
    | R +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    | e |        Unused Flags         |L|p|R|           Loc-AFI         |
    | f +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  \|                             Locator ...                       |
    +-> +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

ACT: 0 node-referral, 1 ms-referral, 2 ms-ack, 3 ms-not-registered,
4 delegation-hole, 5 not-authoritative. A authoritative, I incomplete.
The ref-locators use the mapping-record locator format (records.Locator).
Signature sections (SigCnt > 0) are not supported and rejected.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any

from lispstack.wire.address import (
    Address,
    check_decoded_mask,
    check_mask_len,
    decode_address,
    encode_address,
    split_instance_id,
)
from lispstack.wire.buffer import Reader
from lispstack.wire.errors import BadValueError, EncodeError
from lispstack.wire.message_type import MessageType, check_nonce, nonce_text
from lispstack.wire.records import Locator

_HEAD = struct.Struct("!IQ")
_RECORD = struct.Struct("!IBBHH")


class ReferralAction(enum.IntEnum):
    NODE_REFERRAL = 0
    MS_REFERRAL = 1
    MS_ACK = 2
    MS_NOT_REGISTERED = 3
    DELEGATION_HOLE = 4
    NOT_AUTHORITATIVE = 5

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferralRecord:
    eid: Address
    eid_mask_len: int
    ttl: int = 1440
    action: ReferralAction = ReferralAction.NODE_REFERRAL
    authoritative: bool = False
    incomplete: bool = False
    map_version: int = 0
    referrals: tuple[Locator, ...] = ()
    reserved: int = 0

    def __post_init__(self) -> None:
        check_mask_len(self.eid, self.eid_mask_len)
        if not 0 <= self.ttl <= 0xFFFFFFFF:
            raise EncodeError("referral TTL does not fit in 32 bits")
        if not 0 <= self.reserved <= 0x7FF:
            raise EncodeError("referral record reserved bits must fit in 11 bits")
        if not 0 <= self.map_version <= 0xFFF:
            raise EncodeError("map-version does not fit in 12 bits")
        if len(self.referrals) > 255:
            raise EncodeError("at most 255 referrals")

    def encode(self) -> bytes:
        flags = (
            (self.action << 13)
            | (self.authoritative << 12)
            | (self.incomplete << 11)
            | self.reserved
        )
        return b"".join(
            (
                _RECORD.pack(
                    self.ttl, len(self.referrals), self.eid_mask_len, flags, self.map_version
                ),
                encode_address(self.eid),
                *(loc.encode() for loc in self.referrals),
            )
        )

    @classmethod
    def decode(cls, r: Reader, field: str) -> ReferralRecord:
        pos = r.pos
        r.take(_RECORD.size, field)
        ttl, count, mask_len, flags, version = _RECORD.unpack_from(r.data, pos)
        action = flags >> 13
        if action > ReferralAction.NOT_AUTHORITATIVE:
            raise BadValueError(f"unknown referral action {action}", field=field, offset=pos + 6)
        if version >> 12:
            raise BadValueError(
                "signatures are not supported", field=f"{field}.sig_count", offset=pos + 8
            )
        eid = decode_address(r, f"{field}.eid")
        check_decoded_mask(eid, mask_len, f"{field}.eid_mask_len", pos + 5)
        referrals = tuple(Locator.decode(r, f"{field}.referral[{i}]") for i in range(count))
        return cls(
            eid=eid,
            eid_mask_len=mask_len,
            ttl=ttl,
            action=ReferralAction(action),
            authoritative=bool(flags & 0x1000),
            incomplete=bool(flags & 0x800),
            map_version=version,
            referrals=referrals,
            reserved=flags & 0x7FF,
        )

    def to_json(self) -> dict[str, Any]:
        iid, bare = split_instance_id(self.eid)
        return {
            "eid": f"{bare}/{self.eid_mask_len}",
            "iid": iid,
            "ttl": self.ttl,
            "action": self.action.label,
            "authoritative": self.authoritative,
            "incomplete": self.incomplete,
            "map_version": self.map_version,
            "referrals": [loc.to_json() for loc in self.referrals],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MapReferral:
    nonce: int
    records: tuple[ReferralRecord, ...]
    reserved: int = 0

    def __post_init__(self) -> None:
        check_nonce(self.nonce)
        if len(self.records) > 255:
            raise EncodeError("at most 255 referral records")
        if not 0 <= self.reserved <= 0xFFFFF:
            raise EncodeError("Map-Referral reserved bits must fit in 20 bits")

    def encode(self) -> bytes:
        first = (MessageType.MAP_REFERRAL << 28) | (self.reserved << 8) | len(self.records)
        return _HEAD.pack(first, self.nonce) + b"".join(r.encode() for r in self.records)

    @classmethod
    def decode_from(cls, r: Reader) -> MapReferral:
        start = r.pos
        r.take(_HEAD.size, "map_referral.header")
        first, nonce = _HEAD.unpack_from(r.data, start)
        if first >> 28 != MessageType.MAP_REFERRAL:
            raise BadValueError("not a Map-Referral", field="type", offset=start)
        records = tuple(ReferralRecord.decode(r, f"record[{i}]") for i in range(first & 0xFF))
        return cls(nonce=nonce, records=records, reserved=(first >> 8) & 0xFFFFF)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "map-referral",
            "nonce": nonce_text(self.nonce),
            "records": [record.to_json() for record in self.records],
        }
