"""The ITR map-cache: EID prefix -> mapping, with TTL, LRU bound and one next deadline.

Pure bookkeeping: the caller passes `now` (seconds, any monotonic origin) and
chooses the payload `V` (for the ITR, a locator set; a negative entry is just
an entry whose payload has no RLOCs and whose `action` says what to do).

- Longest-prefix match goes through a PrefixTable (pytricia); everything else
  is O(1): the LRU order is an OrderedDict keyed by the entry object (identity
  hash, no prefix hashing on the hot path; a plain dict would slow down when
  evicting from its front, which it leaves full of deleted slots).
- The size is bounded: inserting past `max_entries` evicts the least recently
  used entries, so a scan of the EID space cannot grow memory without bound.
- Expired entries are never returned: a lookup that meets one evicts it and
  falls back to the next covering entry; `expire(now)` removes them in bulk and
  `next_deadline()` gives the earliest expiry for a single-timer daemon.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from lispstack.mapping.expiry_heap import ExpiryHeap
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.prefix_table import PrefixTable

V = TypeVar("V")

DEFAULT_MAX_ENTRIES = 100_000


@dataclass(slots=True, eq=False)
class CacheEntry(Generic[V]):
    """One map-cache entry. Owned by the MapCache: read it, do not change it."""

    prefix: EidPrefix
    mapping: V
    action: str
    ttl: float
    """Seconds (the wire carries minutes; converting is the caller's job)."""
    source: str
    """Who told us: "map-reply", "static", "negative", ... (shown to users)."""
    created: float
    refreshed: float
    expires_at: float
    last_used: float
    used_since_refresh: bool = False
    hits: int = 0

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def remaining(self, now: float) -> float:
        return self.expires_at - now


class MapCache(Generic[V]):
    """Bounded, TTL-aware map-cache with longest-prefix lookup."""

    __slots__ = ("_expiry", "_lru", "_max_entries", "_table")

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self._max_entries = max_entries
        self._table: PrefixTable[CacheEntry[V]] = PrefixTable()
        self._lru: OrderedDict[CacheEntry[V], None] = OrderedDict()
        self._expiry: ExpiryHeap[CacheEntry[V]] = ExpiryHeap(self._is_current)

    def _is_current(self, entry: CacheEntry[V], deadline: float) -> bool:
        return entry.expires_at == deadline and entry in self._lru

    @property
    def max_entries(self) -> int:
        return self._max_entries

    # ------------------------------------------------------------ changes

    def put(
        self,
        prefix: EidPrefix,
        mapping: V,
        *,
        ttl: float,
        now: float,
        action: str = "no-action",
        source: str = "map-reply",
    ) -> list[CacheEntry[V]]:
        """Install or refresh `prefix`; returns the entries evicted to stay within bounds.

        A refresh keeps the entry's creation time, use statistics and LRU place.
        A TTL of 0 or less removes the entry (RFC 9301: TTL 0 means do not cache).
        """
        existing = self._table.get(prefix)
        if ttl <= 0:
            if existing is not None:
                self._drop(existing)
            return []
        if existing is not None:
            existing.mapping = mapping
            existing.action = action
            existing.ttl = ttl
            existing.source = source
            existing.refreshed = now
            existing.expires_at = now + ttl
            existing.used_since_refresh = False
            self._expiry.push(existing, existing.expires_at, len(self._lru))
            return []
        entry = CacheEntry(
            prefix=prefix,
            mapping=mapping,
            action=action,
            ttl=ttl,
            source=source,
            created=now,
            refreshed=now,
            expires_at=now + ttl,
            last_used=now,
        )
        self._table[prefix] = entry
        self._lru[entry] = None
        self._expiry.push(entry, entry.expires_at, len(self._lru))
        evicted: list[CacheEntry[V]] = []
        while len(self._lru) > self._max_entries:
            oldest, _ = self._lru.popitem(last=False)
            self._table.pop(oldest.prefix)
            evicted.append(oldest)
        return evicted

    def _drop(self, entry: CacheEntry[V]) -> None:
        del self._lru[entry]
        self._table.pop(entry.prefix)

    def remove(self, prefix: EidPrefix) -> CacheEntry[V] | None:
        entry = self._table.get(prefix)
        if entry is not None:
            self._drop(entry)
        return entry

    def remove_within(self, prefix: EidPrefix) -> list[CacheEntry[V]]:
        """Remove `prefix` and every more specific entry (e.g. after an SMR); what went."""
        found = self._table.more_specifics(prefix)
        removed = [entry for _, entry in found]
        exact = self._table.get(prefix)
        if exact is not None:
            removed.insert(0, exact)
        for entry in removed:
            self._drop(entry)
        return removed

    def clear(self) -> None:
        self._table.clear()
        self._lru.clear()
        self._expiry.clear()

    # ------------------------------------------------------------ lookups

    def lookup(self, iid: int, address: IPAddress, now: float) -> CacheEntry[V] | None:
        """The most specific live entry holding `address`; counts as a use (LRU, refresh)."""
        table = self._table
        while True:
            found = table.lookup(iid, address)
            if found is None:
                return None
            entry = found[1]
            if now < entry.expires_at:
                break
            self._drop(entry)
        entry.last_used = now
        entry.used_since_refresh = True
        entry.hits += 1
        self._lru.move_to_end(entry)
        return entry

    def get(self, prefix: EidPrefix) -> CacheEntry[V] | None:
        """The entry for exactly `prefix`, expired or not, without counting a use."""
        return self._table.get(prefix)

    def __contains__(self, prefix: object) -> bool:
        return prefix in self._table

    def __len__(self) -> int:
        return len(self._lru)

    def __iter__(self) -> Iterator[CacheEntry[V]]:
        """Entries in prefix order (iid, family, address, length)."""
        return self._table.values()

    # ------------------------------------------------------------ timers

    def expire(self, now: float) -> list[CacheEntry[V]]:
        """Remove every entry whose expiry is at or before `now`; the removed entries."""
        due = self._expiry.pop_due(now)
        for entry in due:
            self._drop(entry)
        return due

    def due_for_refresh(self, now: float, margin: float) -> list[CacheEntry[V]]:
        """Live entries used since their last refresh that expire within `margin` seconds.

        Earliest expiry first; the caller sends Map-Requests for them (and calls `put`
        with the answer). Costs O(k log k) for k entries expiring within the margin.
        """
        candidates = self._expiry.peek_until(now + margin)
        return [
            entry for entry in candidates if entry.used_since_refresh and now < entry.expires_at
        ]

    def next_deadline(self) -> float | None:
        """The earliest expiry among the entries, or None when the cache is empty."""
        return self._expiry.earliest()
