"""The DDT Map-Resolver's referral cache: Map-Referral records by EID prefix, until their TTL.

Longest-prefix match per (instance-id, family), so that a referral learnt
for 10.1.0.0/16 serves every later EID inside it. Expired entries are
dropped when a lookup meets them; a full cache forgets its oldest entry.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_network
from typing import Any

from lispstack.core.referrals import referral_order
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.prefix_table import PrefixTable
from lispstack.wire.address import split_instance_id
from lispstack.wire.map_referral import ReferralRecord

MAX_REFERRALS = 1_000_000


@dataclass(frozen=True, slots=True)
class CachedReferral:
    record: ReferralRecord
    expires_at: float
    prefix: EidPrefix
    order: tuple[IPAddress, ...]
    """The referral set in the order to try it (core/referrals.referral_order)."""


def record_prefix(record: ReferralRecord) -> EidPrefix | None:
    """The EID prefix a referral record is about; None for a non-IP EID."""
    iid, address = split_instance_id(record.eid)
    if not isinstance(address, IPv4Address | IPv6Address):
        return None
    return EidPrefix(iid, ip_network((address, record.eid_mask_len)))


class ReferralCache:
    __slots__ = ("_order", "_table", "limit")

    def __init__(self, limit: int = MAX_REFERRALS) -> None:
        self.limit = limit
        self._table: PrefixTable[CachedReferral] = PrefixTable()
        self._order: OrderedDict[EidPrefix, None] = OrderedDict()

    def put(self, prefix: EidPrefix, record: ReferralRecord, now: float) -> None:
        if prefix not in self._order and len(self._order) >= self.limit:
            oldest, _ = self._order.popitem(last=False)
            del self._table[oldest]
        order = tuple(referral_order(record))
        self._table[prefix] = CachedReferral(record, now + record.ttl * 60, prefix, order)
        self._order[prefix] = None
        self._order.move_to_end(prefix)

    def lookup(self, iid: int, eid: IPAddress, now: float) -> ReferralRecord | None:
        """The most specific live referral holding `eid` (expired ones are dropped)."""
        while (found := self._table.lookup(iid, eid)) is not None:
            prefix, entry = found
            if entry.expires_at > now:
                return entry.record
            self.forget(prefix)
        return None

    def entry_v4(self, eid: int, now: float) -> CachedReferral | None:
        """The most specific live entry holding the IPv4 EID `eid` (an int) of instance-id 0."""
        while (found := self._table.lookup_v4(0, eid)) is not None:
            prefix, entry = found
            if entry.expires_at > now:
                return entry
            self.forget(prefix)
        return None

    def forget(self, prefix: EidPrefix) -> None:
        """Drop the entry of exactly `prefix`, if any (a referral found stale)."""
        if self._table.pop(prefix) is not None:
            del self._order[prefix]

    def clear(self) -> None:
        self._table.clear()
        self._order.clear()

    def __len__(self) -> int:
        return len(self._order)

    def to_json(self, now: float) -> list[dict[str, Any]]:
        return [
            {**entry.record.to_json(), "expires_in_s": round(entry.expires_at - now, 1)}
            for _, entry in self._table.items()
            if entry.expires_at > now
        ]
