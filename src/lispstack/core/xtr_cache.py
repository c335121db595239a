"""The ITR's map-cache as the data plane sees it: longest-prefix match on integer addresses.

One pytricia patricia trie per (instance-id, IP version): an IPv4 lookup by
integer address costs about 0.1 µs at any table size. Each entry keeps the Map-Reply record it
came from (for `show map-cache`) and what encapsulation needs, worked out
once: the usable RLOCs and the locator-status-bits. Entries expire with
their TTL (0: not cached at all, RFC 9301) and the table is bounded (least
recently used evicted first).

Native routes. The edge may let the kernel forward a natively-forwarded
prefix itself (a throw route, so its packets no longer reach the ITR). That is
right only while no entry of another kind (positive, drop, send-map-request)
lies inside the prefix: the throw route would take that entry's packets past
its mapping. So each entry counts the other-kind entries inside it, and
`native_route` is true exactly for natively-forward entries whose count is 0;
every change of that flag is reported (`Changes.routes`), so the ITR's routes
follow the cache through inserts, replacements, evictions and expiry.

This cache stays in core/, not mapping/: its entries hold what the data plane
computes from a record (core.encapsulation's RlocChoice and locator-status-bits,
core.forwarding's EntryKind), and mapping/ must not import core/.
"""

from __future__ import annotations

import heapq
from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytricia

from lispstack.core.encapsulation import RlocChoice, locator_status_bits
from lispstack.core.events import IPAddress
from lispstack.core.forwarding import EntryKind, entry_kind
from lispstack.wire.address import split_instance_id
from lispstack.wire.records import MappingRecord, MapReplyAction

TTL_UNIT_S = 60.0
"""Seconds in one unit of a record's TTL (minutes, RFC 9301); a lab test sets it
smaller to see an entry expire without waiting a minute."""

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
    kind: EntryKind
    last_used: float = 0.0
    refreshing: bool = False
    others_inside: int = 0
    """Cached entries strictly inside this prefix whose kind is not NATIVE."""
    native_route: bool = False
    """Natively forwarded and nothing of another kind inside: a native route may cover it."""
    prefix_text: str = field(default="")

    @property
    def iid(self) -> int:
        return self.key[0]

    @property
    def negative(self) -> bool:
        return not self.record.locators

    @property
    def action(self) -> MapReplyAction:
        return self.record.action

    @property
    def network(self) -> tuple[IPAddress, int]:
        """(network address, prefix length)."""
        _, version, network, length = self.key
        return (IPv4Address(network) if version == 4 else IPv6Address(network)), length

    def announced_up(self, rloc: RlocChoice) -> bool:
        """Does the mapping record say `rloc` is up (its R bit)? An ETR clears it for an
        RLOC of its own it no longer holds: no probe or echo makes that RLOC usable."""
        return self.record.locators[rloc.index].reachable

    def set_reachable(self, reachable: dict[IPAddress, bool]) -> None:
        """RLOC probing's verdicts: unreachable RLOCs leave the load-split at once (an
        RLOC the record says is down stays down)."""
        self.rlocs = tuple(
            r
            if reachable.get(r.address, r.reachable) == r.reachable or not self.announced_up(r)
            else replace(r, reachable=reachable[r.address])
            for r in self.rlocs
        )
        self.lsb = locator_status_bits(self.rlocs)

    def to_json(self, now: float) -> dict[str, object]:
        out: dict[str, object] = dict(self.record.to_json())
        out["uptime_s"] = round(now - self.created, 3)
        out["expires_in_s"] = round(max(0.0, self.expires - now), 3)
        out["source"] = self.source
        return out


RouteChange = tuple[bool, CacheEntry]
"""(True: `entry` now holds a native route / False: no longer)."""


@dataclass(slots=True)
class Changes:
    """What one map-cache update did besides installing its entry."""

    removed: list[CacheEntry] = field(default_factory=list)
    """Entries gone: replaced at TTL 0, evicted or expired."""
    routes: list[RouteChange] = field(default_factory=list)
    """Native-route standings that changed, in order."""


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


def ttl_seconds(record: MappingRecord) -> float:
    return record.ttl * TTL_UNIT_S


def new_entry(record: MappingRecord, now: float, source: str) -> CacheEntry:
    rlocs = usable_rlocs(record)
    return CacheEntry(
        key=record_key(record),
        record=record,
        created=now,
        expires=now + ttl_seconds(record),
        source=source,
        rlocs=rlocs,
        lsb=locator_status_bits(rlocs),
        kind=entry_kind(record),
        last_used=now,
        prefix_text=record.eid_text,
    )


class XtrCache:
    """Longest-prefix-match map-cache with TTL expiry, an LRU bound and native-route standing."""

    __slots__ = ("_entries", "_expiry", "_tables", "changed", "limit")

    def __init__(self, limit: int = 100_000) -> None:
        if limit < 1:
            raise ValueError(f"map-cache limit must be at least 1, not {limit}")
        self.limit = limit
        self._tables: dict[TableKey, Any] = {}  # PyTricia of prefix text -> CacheEntry
        self._entries: OrderedDict[EntryKey, CacheEntry] = OrderedDict()
        self._expiry: list[tuple[float, EntryKey]] = []
        """(expiry, key) pairs, stale ones included; at most 2 per live entry plus 64."""
        self.changed: set[EntryKey] | None = None
        """When a kernel data plane follows the cache (io/ebpf_engine.py): the keys
        installed, replaced, removed or whose RLOC reachability changed since it
        last took them; None: nobody follows."""

    def __len__(self) -> int:
        return len(self._entries)

    def sizes(self) -> dict[int, int]:
        """The number of entries of each instance-id."""
        return dict(Counter(key[0] for key in self._entries))

    def entries(self) -> list[CacheEntry]:
        return sorted(self._entries.values(), key=lambda e: e.key)

    def get(self, key: EntryKey) -> CacheEntry | None:
        """The entry for exactly this prefix, expired or not, without marking it used."""
        return self._entries.get(key)

    # ------------------------------------------------------------ changes

    def insert(self, record: MappingRecord, now: float, source: str) -> tuple[CacheEntry, Changes]:
        """Install (or replace) the record's prefix: the entry, and what else changed.

        A record with TTL 0 is not cached (RFC 9301: remove it at once); the
        entry returned then describes the record but is not in the cache.
        """
        entry = new_entry(record, now, source)
        changes = Changes()
        key = entry.key
        self.note(key)
        old = self._entries.get(key)
        if record.ttl == 0:
            if old is not None:
                self._remove(old, changes)
            return entry, changes
        trie = self._tables.get(key[:2])
        if trie is None:
            trie = self._tables[key[:2]] = pytricia.PyTricia(32 if key[1] == 4 else 128)
        if old is None:
            trie[entry.prefix_text] = entry
            inside = (trie[inner] for inner in trie.children(entry.prefix_text))
            entry.others_inside = sum(1 for e in inside if e.kind != EntryKind.NATIVE)
            self._standing(entry, changes)
            if entry.kind != EntryKind.NATIVE:
                self._count_inside(trie, entry, 1, changes)
        else:
            del self._entries[key]
            trie[entry.prefix_text] = entry
            entry.created = old.created if old.record == record else now
            entry.others_inside = old.others_inside
            entry.native_route = old.native_route
            self._standing(entry, changes)
            if (old.kind == EntryKind.NATIVE) != (entry.kind == EntryKind.NATIVE):
                self._count_inside(trie, entry, 1 if old.kind == EntryKind.NATIVE else -1, changes)
        self._entries[key] = entry
        self._push_expiry(entry)
        while len(self._entries) > self.limit:
            _, victim = next(iter(self._entries.items()))
            self._remove(victim, changes)
        return entry, changes

    def expire(self, now: float) -> Changes:
        """Remove every entry whose TTL has run out."""
        changes = Changes()
        while self._expiry and self._expiry[0][0] <= now:
            expires, key = heapq.heappop(self._expiry)
            entry = self._entries.get(key)
            if entry is not None and entry.expires == expires:
                self._remove(entry, changes)
        return changes

    def clear(self) -> Changes:
        """Remove every entry (the node stops)."""
        changes = Changes(removed=self.entries())
        for entry in changes.removed:
            self.note(entry.key)
            if entry.native_route:
                entry.native_route = False
                changes.routes.append((False, entry))
        self._tables.clear()
        self._entries.clear()
        self._expiry.clear()
        return changes

    def _remove(self, entry: CacheEntry, changes: Changes) -> None:
        trie = self._tables[entry.key[:2]]
        if entry.kind != EntryKind.NATIVE:
            self._count_inside(trie, entry, -1, changes)
        if entry.native_route:
            entry.native_route = False
            changes.routes.append((False, entry))
        del self._entries[entry.key]
        trie.delete(entry.prefix_text)
        changes.removed.append(entry)
        self.note(entry.key)

    def note(self, key: EntryKey) -> None:
        """`key`'s entry changed (for whoever follows the cache)."""
        if self.changed is not None:
            self.changed.add(key)

    def _count_inside(self, trie: Any, entry: CacheEntry, delta: int, changes: Changes) -> None:
        """Every entry holding `entry` gains (or loses) one other-kind entry inside it."""
        parent = trie.parent(entry.prefix_text)
        while parent is not None:
            outer: CacheEntry = trie[parent]
            outer.others_inside += delta
            self._standing(outer, changes)
            parent = trie.parent(parent)

    @staticmethod
    def _standing(entry: CacheEntry, changes: Changes) -> None:
        routed = entry.kind == EntryKind.NATIVE and entry.others_inside == 0
        if routed != entry.native_route:
            entry.native_route = routed
            changes.routes.append((routed, entry))

    def _push_expiry(self, entry: CacheEntry) -> None:
        heapq.heappush(self._expiry, (entry.expires, entry.key))
        if len(self._expiry) > 2 * len(self._entries) + 64:
            # Replacements and evictions leave stale pairs: keep the heap proportional.
            self._expiry = [(e.expires, e.key) for e in self._entries.values()]
            heapq.heapify(self._expiry)

    # ------------------------------------------------------------ lookups

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

    def touch(self, key: EntryKey, now: float) -> CacheEntry | None:
        """Mark the entry for exactly `key` used now, as a lookup does (None: not cached)."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.last_used = now
            self._entries.move_to_end(key)
        return entry

    def peek(self, iid: int, version: int, address: int, now: float) -> CacheEntry | None:
        """`lookup` without marking the entry used."""
        trie = self._tables.get((iid, version))
        if trie is None:
            return None
        return _longest_live(trie, address if version == 4 else IPv6Address(address), now)

    def find(self, iid: int, address: IPAddress, now: float) -> CacheEntry | None:
        """`lookup` for an address object, without marking the entry used."""
        trie = self._tables.get((iid, address.version))
        return None if trie is None else _longest_live(trie, address, now)

    def next_expiry(self) -> float | None:
        while self._expiry:
            expires, key = self._expiry[0]
            entry = self._entries.get(key)
            if entry is not None and entry.expires == expires:
                return expires
            heapq.heappop(self._expiry)
        return None

    def expiry_backlog(self) -> int:
        """(expiry, key) pairs held, stale ones included: bounded by the live entries."""
        return len(self._expiry)


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
