"""The ITR's map-cache as the data plane sees it: longest-prefix match on integer addresses.

One pytricia patricia trie per (instance-id, IP version): an IPv4 lookup by
integer address costs about 0.1 µs at any table size. Each entry keeps the Map-Reply record it
came from (for `show map-cache`) and what encapsulation needs, worked out
once: the usable RLOCs and the locator-status-bits. Entries expire with
their TTL and the table is bounded (least recently used evicted first).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytricia

from lispstack.core.encapsulation import RlocChoice, locator_status_bits
from lispstack.core.events import IPAddress
from lispstack.wire.address import split_instance_id
from lispstack.wire.records import Action, MappingRecord

TableKey = tuple[int, int]
"""(instance-id, IP version)."""
EntryKey = tuple[int, int, int, int]
"""(instance-id, IP version, network as an int, prefix length)."""


@dataclass(slots=True)
class CacheEntry:
    key: EntryKey
    record: MappingRecord
    created: float
    expires: float
    source: str
    rlocs: tuple[RlocChoice, ...]
    lsb: int
    last_used: float = 0.0
    refreshing: bool = False
    native_route: bool = False
    """InstallNativeRoute was emitted for this entry (RemoveNativeRoute due on removal)."""
    prefix_text: str = field(default="")

    @property
    def iid(self) -> int:
        return self.key[0]

    @property
    def negative(self) -> bool:
        return not self.record.locators

    @property
    def action(self) -> Action:
        return self.record.action

    def contains(self, address: IPAddress) -> bool:
        _, version, network, length = self.key
        if address.version != version:
            return False
        bits = 32 if version == 4 else 128
        return (int(address) >> (bits - length)) == (network >> (bits - length)) if length else True

    def to_json(self, now: float) -> dict[str, object]:
        out: dict[str, object] = dict(self.record.to_json())
        out["uptime_s"] = round(now - self.created, 3)
        out["expires_in_s"] = round(max(0.0, self.expires - now), 3)
        out["source"] = self.source
        return out


def record_key(record: MappingRecord) -> EntryKey:
    iid, address = split_instance_id(record.eid)
    if not isinstance(address, IPv4Address | IPv6Address):
        raise ValueError(f"map-cache holds IP EID prefixes, not {address}")
    return (iid, address.version, int(address), record.eid_mask_len)


def usable_rlocs(record: MappingRecord) -> tuple[RlocChoice, ...]:
    rlocs: list[RlocChoice] = []
    for index, locator in enumerate(record.locators):
        address = locator.address
        if isinstance(address, IPv4Address | IPv6Address):
            rlocs.append(
                RlocChoice(index, address, locator.priority, locator.weight, locator.reachable)
            )
    return tuple(rlocs)


class XtrCache:
    """Longest-prefix-match map-cache with TTL expiry and an LRU bound."""

    __slots__ = ("_entries", "_expiry", "_tables", "limit")

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._tables: dict[TableKey, Any] = {}  # PyTricia of prefix text -> CacheEntry
        self._entries: OrderedDict[EntryKey, CacheEntry] = OrderedDict()
        self._expiry: list[tuple[float, EntryKey]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[CacheEntry]:
        return sorted(self._entries.values(), key=lambda e: e.key)

    def insert(
        self, record: MappingRecord, now: float, source: str
    ) -> tuple[CacheEntry, list[CacheEntry]]:
        """Install (or replace) the record's prefix; returns the entry and the entries evicted."""
        key = record_key(record)
        iid, version, _, _ = key
        rlocs = usable_rlocs(record)
        entry = CacheEntry(
            key=key,
            record=record,
            created=now,
            expires=now + record.ttl * 60.0,
            source=source,
            rlocs=rlocs,
            lsb=locator_status_bits(rlocs),
            last_used=now,
            prefix_text=record.eid_text,
        )
        old = self._entries.pop(key, None)
        if old is not None:
            entry.native_route = old.native_route
            entry.created = old.created if old.record == record else now
        self._entries[key] = entry
        trie = self._tables.get((iid, version))
        if trie is None:
            trie = self._tables[(iid, version)] = pytricia.PyTricia(32 if version == 4 else 128)
        trie[entry.prefix_text] = entry
        heapq.heappush(self._expiry, (entry.expires, key))
        evicted: list[CacheEntry] = []
        while len(self._entries) > self.limit:
            _, victim = self._entries.popitem(last=False)
            self._unlink(victim)
            evicted.append(victim)
        return entry, evicted

    def lookup(self, iid: int, version: int, address: int, now: float) -> CacheEntry | None:
        """The longest live prefix holding `address` (marked used), or None."""
        trie = self._tables.get((iid, version))
        if trie is None:
            return None
        entry = _longest_live(trie, address if version == 4 else IPv6Address(address), now)
        if entry is not None:
            entry.last_used = now
            self._entries.move_to_end(entry.key)
        return entry

    def find(self, iid: int, address: IPAddress, now: float) -> CacheEntry | None:
        """`lookup` for an address object, without marking the entry used."""
        trie = self._tables.get((iid, address.version))
        return None if trie is None else _longest_live(trie, address, now)

    def expire(self, now: float) -> list[CacheEntry]:
        """Remove and return every entry whose TTL has run out."""
        gone: list[CacheEntry] = []
        while self._expiry and self._expiry[0][0] <= now:
            expires, key = heapq.heappop(self._expiry)
            entry = self._entries.get(key)
            if entry is None or entry.expires != expires:
                continue  # replaced or evicted since
            del self._entries[key]
            self._unlink(entry)
            gone.append(entry)
        return gone

    def next_expiry(self) -> float | None:
        while self._expiry:
            expires, key = self._expiry[0]
            entry = self._entries.get(key)
            if entry is not None and entry.expires == expires:
                return expires
            heapq.heappop(self._expiry)
        return None

    def _unlink(self, entry: CacheEntry) -> None:
        iid, version, _, _ = entry.key
        trie = self._tables[(iid, version)]
        if trie.has_key(entry.prefix_text) and trie[entry.prefix_text] is entry:
            trie.delete(entry.prefix_text)


def _longest_live(trie: Any, address: int | IPAddress, now: float) -> CacheEntry | None:
    """The longest unexpired entry holding `address` (expired ones are skipped, not removed)."""
    entry: CacheEntry | None = trie.get(address)
    while entry is not None and entry.expires <= now:
        parent = trie.parent(entry.prefix_text)
        entry = trie[parent] if parent else None
    return entry


def parse_eid(text: str) -> IPAddress:
    """An EID as typed after `show map-cache` / `show forwarding` (no prefix length)."""
    return ip_address(text.split("/", 1)[0])
