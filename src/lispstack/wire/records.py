r"""Mapping records and locators (RFC 9301 section 5.4), and Map-Request EID records.

Mapping record, as carried by Map-Reply, Map-Register and Map-Notify:

    +-> +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |   |                          Record TTL                           |
    |   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    R   | Locator Count | EID mask-len  | ACT |A|       Reserved        |
    e   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    c   | Rsvd  |  Map-Version Number   |       EID-Prefix-AFI          |
    o   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    r   |                          EID-Prefix                           |
    d   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  /|    Priority   |    Weight     |  M Priority   |   M Weight    |
    | L +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    | o |        Unused Flags     |L|p|R|           Loc-AFI             |
    | c +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  \|                             Locator                           |
    +-> +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Map-Request EID record:

    |   Reserved    | EID mask-len  |        EID-Prefix-AFI         |
    |                       EID-Prefix  ...                         |
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from lispstack.bounded_cache import BoundedCache
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


class MapReplyAction(enum.IntEnum):
    """Map-Reply action (ACT) for negative and positive records."""

    NO_ACTION = 0
    NATIVELY_FORWARD = 1
    SEND_MAP_REQUEST = 2
    DROP = 3
    DROP_POLICY_DENIED = 4
    DROP_AUTH_FAILURE = 5

    @property
    def label(self) -> str:
        return _ACTION_LABELS[self]

    @classmethod
    def from_label(cls, label: str) -> MapReplyAction:
        for action, text in _ACTION_LABELS.items():
            if text == label:
                return action
        raise ValueError(f"unknown action {label!r}")


_ACTION_LABELS = {
    MapReplyAction.NO_ACTION: "no-action",
    MapReplyAction.NATIVELY_FORWARD: "natively-forward",
    MapReplyAction.SEND_MAP_REQUEST: "send-map-request",
    MapReplyAction.DROP: "drop",
    MapReplyAction.DROP_POLICY_DENIED: "drop-policy-denied",
    MapReplyAction.DROP_AUTH_FAILURE: "drop-auth-failure",
}

_LOCATOR = struct.Struct("!BBBBH")
_RECORD = struct.Struct("!IBBBBH")


def record_head(ttl: int, locator_count: int, mask_len: int, flags: int, map_version: int) -> bytes:
    """A mapping record's first 10 bytes; `flags` holds ACT, A and Reserved (16 bits)."""
    return _RECORD.pack(ttl, locator_count, mask_len, flags >> 8, flags & 0xFF, map_version)


_EID_RECORD = struct.Struct("!BB")


def _check_u8(name: str, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise EncodeError(f"{name} {value} does not fit in 8 bits")


@dataclass(frozen=True, slots=True, kw_only=True)
class Locator:
    """One RLOC of a mapping record."""

    address: Address
    priority: int = 1
    weight: int = 100
    m_priority: int = 255
    m_weight: int = 0
    local: bool = False
    probed: bool = False
    reachable: bool = True
    unused_flags: int = 0

    def __post_init__(self) -> None:
        for name in ("priority", "weight", "m_priority", "m_weight"):
            _check_u8(name, getattr(self, name))
        if not 0 <= self.unused_flags <= 0x1FFF:
            raise EncodeError("locator unused flags must fit in 13 bits")

    def encode(self) -> bytes:
        flags = (self.unused_flags << 3) | (self.local << 2) | (self.probed << 1) | self.reachable
        return _LOCATOR.pack(
            self.priority, self.weight, self.m_priority, self.m_weight, flags
        ) + encode_address(self.address)

    @classmethod
    def decode(cls, r: Reader, field: str = "locator") -> Locator:
        pos = r.pos
        r.take(6, field)
        priority, weight, m_priority, m_weight, flags = _LOCATOR.unpack_from(r.data, pos)
        address = decode_address(r, f"{field}.address")
        return cls(
            address=address,
            priority=priority,
            weight=weight,
            m_priority=m_priority,
            m_weight=m_weight,
            local=bool(flags & 4),
            probed=bool(flags & 2),
            reachable=bool(flags & 1),
            unused_flags=flags >> 3,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "address": str(self.address),
            "priority": self.priority,
            "weight": self.weight,
            "m_priority": self.m_priority,
            "m_weight": self.m_weight,
            "local": self.local,
            "probed": self.probed,
            "reachable": self.reachable,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingRecord:
    """An EID-prefix and its locator set (or a negative record with an action)."""

    eid: Address
    eid_mask_len: int
    ttl: int = 1440
    action: MapReplyAction = MapReplyAction.NO_ACTION
    authoritative: bool = False
    map_version: int = 0
    locators: tuple[Locator, ...] = field(default=())
    reserved: int = 0

    def __post_init__(self) -> None:
        check_mask_len(self.eid, self.eid_mask_len)
        if not 0 <= self.ttl <= 0xFFFFFFFF:
            raise EncodeError(f"record TTL {self.ttl} does not fit in 32 bits")
        if not 0 <= self.map_version <= 0xFFF:
            raise EncodeError(f"map-version {self.map_version} does not fit in 12 bits")
        if len(self.locators) > 255:
            raise EncodeError(f"{len(self.locators)} locators, at most 255")
        if not 0 <= self.reserved <= 0xFFF:
            raise EncodeError("record reserved bits must fit in 12 bits")

    @property
    def iid(self) -> int:
        return split_instance_id(self.eid)[0]

    @property
    def eid_text(self) -> str:
        """The EID prefix as "192.168.2.0/24" (instance-id shown separately)."""
        return f"{split_instance_id(self.eid)[1]}/{self.eid_mask_len}"

    def encode(self) -> bytes:
        flags = (self.action << 13) | (self.authoritative << 12) | self.reserved
        head = record_head(self.ttl, len(self.locators), self.eid_mask_len, flags, self.map_version)
        return b"".join((head, encode_address(self.eid), *(loc.encode() for loc in self.locators)))

    @classmethod
    def decode(cls, r: Reader, field: str = "record") -> MappingRecord:
        pos = r.pos
        r.take(10, field)
        ttl, count, mask_len, flags_hi, flags_lo, version = _RECORD.unpack_from(r.data, pos)
        flags = (flags_hi << 8) | flags_lo
        action_value = flags >> 13
        if action_value > MapReplyAction.DROP_AUTH_FAILURE:
            raise BadValueError(
                f"unknown action {action_value}", field=f"{field}.action", offset=pos + 6
            )
        eid = decode_address(r, f"{field}.eid")
        check_decoded_mask(eid, mask_len, f"{field}.eid_mask_len", pos + 5)
        locators = _decode_locator_set(r, count, field)
        return cls(
            eid=eid,
            eid_mask_len=mask_len,
            ttl=ttl,
            action=MapReplyAction(action_value),
            authoritative=bool(flags & 0x1000),
            map_version=version & 0xFFF,
            locators=locators,
            reserved=flags & 0xFFF,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "eid": self.eid_text,
            "iid": self.iid,
            "ttl": self.ttl,
            "action": self.action.label,
            "authoritative": self.authoritative,
            "map_version": self.map_version,
            "rlocs": [loc.to_json() for loc in self.locators],
        }


LocatorSets: TypeAlias = BoundedCache[bytes, tuple[Locator, ...]]
"""Decoded locator sets by their encoding, for records to share (see _decode_locator_set).

The table belongs to whoever decodes (a node passes its own to
control.decode_control); the codecs keep none.
"""
MAX_LOCATOR_SETS = 4096


def new_locator_sets() -> LocatorSets:
    return BoundedCache(MAX_LOCATOR_SETS)


def _decode_locator_set(r: Reader, count: int, field: str) -> tuple[Locator, ...]:
    """The `count` locators at the cursor, one shared tuple per distinct encoding.

    A Map-Server holds a record per registered prefix, and the records of one
    site's ETRs nearly all carry the same locators: sharing them saves about
    200 bytes per registration, and a set of plain IPv4/IPv6 locators seen
    before is not decoded again. Locators are immutable, so sharing is safe.
    Without the reader's `locator_sets`, every record gets its own tuple.
    """
    shared_sets = r.locator_sets
    start = r.pos
    if shared_sets is not None:
        end = _plain_locators_end(r.data, start, min(r.end, len(r.data)), count)
        if end is not None:
            shared = shared_sets.entries.get(r.data[start:end])
            if shared is not None:
                r.pos = end
                return shared
    decoded = tuple(Locator.decode(r, f"{field}.locator[{i}]") for i in range(count))
    if shared_sets is None:
        return decoded
    return shared_sets.shared(r.data[start : r.pos], decoded)


_PLAIN_LOCATOR_LENGTHS = {1: 12, 2: 24}
"""Locator bytes by AFI: 6 of priorities and flags, the AFI, the address."""


def _plain_locators_end(data: bytes, pos: int, end: int, count: int) -> int | None:
    """Where `count` IPv4/IPv6 locators starting at `pos` end; None for anything else."""
    for _ in range(count):
        if pos + 8 > end:
            return None
        length = _PLAIN_LOCATOR_LENGTHS.get((data[pos + 6] << 8) | data[pos + 7])
        if length is None or pos + length > end:
            return None
        pos += length
    return pos


SUBSCRIBE_BIT = 0x80
"""The N bit of a Map-Request EID record (RFC 9437): first bit of its reserved byte."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EidRecord:
    """The EID-prefix asked for in a Map-Request.

    The first bit of `reserved` is the N bit of RFC 9437 (publish/subscribe):
    the ITR asks to be notified (Map-Notify) when the mapping changes.
    """

    eid: Address
    eid_mask_len: int
    reserved: int = 0

    def __post_init__(self) -> None:
        check_mask_len(self.eid, self.eid_mask_len)
        _check_u8("reserved", self.reserved)

    @property
    def iid(self) -> int:
        return split_instance_id(self.eid)[0]

    @property
    def eid_text(self) -> str:
        return f"{split_instance_id(self.eid)[1]}/{self.eid_mask_len}"

    @property
    def subscribe(self) -> bool:
        """The N bit (RFC 9437)."""
        return bool(self.reserved & SUBSCRIBE_BIT)

    def encode(self) -> bytes:
        return _EID_RECORD.pack(self.reserved, self.eid_mask_len) + encode_address(self.eid)

    @classmethod
    def decode(cls, r: Reader, field: str = "eid_record") -> EidRecord:
        pos = r.pos
        reserved = r.u8(f"{field}.reserved")
        mask_len = r.u8(f"{field}.eid_mask_len")
        eid = decode_address(r, f"{field}.eid")
        check_decoded_mask(eid, mask_len, f"{field}.eid_mask_len", pos + 1)
        return cls(eid=eid, eid_mask_len=mask_len, reserved=reserved)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"eid": self.eid_text, "iid": self.iid}
        if self.subscribe:
            out["subscribe"] = True
        return out
