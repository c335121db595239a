"""The Map-Server's registration store: one Registration per (EID prefix, ETR).

The ETR id is whatever identifies a registering ETR: its xTR-ID when the
Map-Register carries one, else its source RLOC. Several ETRs registering one
prefix keep separate registrations; `lookup` gives all of them and merging
their RLOCs is the caller's business. The caller decides each expiry time.

Sized for a million registrations: a refresh updates the stored Registration
in place; a prefix maps to its Registration, or to a tuple of them in the
rare case of several ETRs (a 1-tuple per prefix would cost 48 bytes per
registration); and the expiry heap holds one (deadline, registration) pair
per registration, rescheduled lazily when it surfaces early because of a
refresh.
MappingRecord is only named for type checking: this layer does not import the
wire codecs at run time.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.prefix_table import PrefixTable

if TYPE_CHECKING:
    from lispstack.wire.records import MappingRecord


@dataclass(slots=True, eq=False)
class Registration:
    """What one ETR registered for one EID prefix, and when (refreshed in place)."""

    site: str
    prefix: EidPrefix
    etr: str
    record: MappingRecord
    registered_by: str
    proxy_reply: bool
    xtr_id: int | None
    nonce: int
    first_registered: float
    last_registered: float
    expires_at: float
    scheduled: float = field(default=math.nan, repr=False)
    """The deadline of this registration's current pair in the store's expiry heap;
    NaN (equal to no deadline) while the registration is not stored."""
    replica: bool = False
    """Set by another worker of the node (which then counts and logs its expiry)."""

    def __lt__(self, other: Registration) -> bool:
        # Orders heap pairs with equal deadlines without comparing prefixes (slow);
        # `expire` sorts what falls due, so the arbitrary order never shows.
        return id(self) < id(other)


_Held = Registration | tuple[Registration, ...]


def _all(held: _Held | None) -> tuple[Registration, ...]:
    if held is None:
        return ()
    return (held,) if isinstance(held, Registration) else held


class RegistrationStore:
    """Registrations by (EID prefix, ETR id), longest-prefix match and expiry."""

    __slots__ = ("_by_prefix", "_count", "_expiry", "generation")

    def __init__(self) -> None:
        self._by_prefix: PrefixTable[_Held] = PrefixTable()
        self._expiry: list[tuple[float, Registration]] = []
        self._count = 0
        self.generation = 0
        """Bumped on every change visible in answers, so derived answers can be cached."""

    # ------------------------------------------------------------ changes

    def put(self, new: Registration) -> Registration | None:
        """Store `new`, or refresh the registration of its (prefix, ETR) from it.

        A refresh keeps the stored object and its `first_registered`; returns the
        registration refreshed, or None when `new` was stored as a new one.
        """
        held = _all(self._by_prefix.get(new.prefix))
        for current in held:
            if current.etr == new.etr:
                self._refresh(current, new)
                return current
        self._by_prefix[new.prefix] = (*held, new) if held else new
        self._count += 1
        self.generation += 1
        self._schedule(new)
        self._collect_garbage()
        return None

    def _refresh(self, current: Registration, new: Registration) -> None:
        if current.record != new.record or current.proxy_reply != new.proxy_reply:
            self.generation += 1
            current.record = new.record
        current.site = new.site
        current.registered_by = new.registered_by
        current.proxy_reply = new.proxy_reply
        current.xtr_id = new.xtr_id
        current.replica = new.replica
        self.renew(current, new.nonce, new.last_registered, new.expires_at)

    def renew(self, current: Registration, nonce: int, now: float, expires_at: float) -> None:
        """Refresh a stored registration whose content is unchanged.

        One that had lapsed (not yet removed by `expire`) comes back to answers:
        that is a change.
        """
        if current.expires_at <= now:
            self.generation += 1
        current.nonce = nonce
        current.last_registered = now
        current.expires_at = expires_at
        if expires_at < current.scheduled:
            self._schedule(current)
            self._collect_garbage()

    def _schedule(self, registration: Registration) -> None:
        registration.scheduled = registration.expires_at
        heapq.heappush(self._expiry, (registration.expires_at, registration))

    def _collect_garbage(self) -> None:
        if len(self._expiry) > 2 * self._count + 64:
            # Pairs of removed registrations, and of ones rescheduled earlier.
            self._expiry = [pair for pair in self._expiry if self._is_current(pair)]
            heapq.heapify(self._expiry)

    @staticmethod
    def _is_current(pair: tuple[float, Registration]) -> bool:
        deadline, registration = pair
        return registration.scheduled == deadline

    def remove(self, prefix: EidPrefix, etr: str) -> Registration | None:
        """Deregister (TTL 0) or forget one registration; what was there."""
        held = _all(self._by_prefix.get(prefix))
        for removed in held:
            if removed.etr == etr:
                break
        else:
            return None
        removed.scheduled = math.nan
        rest = tuple(r for r in held if r is not removed)
        if rest:
            self._by_prefix[prefix] = rest if len(rest) > 1 else rest[0]
        else:
            self._by_prefix.pop(prefix)
        self._count -= 1
        self.generation += 1
        return removed

    # ------------------------------------------------------------ lookups

    def get(self, prefix: EidPrefix, etr: str) -> Registration | None:
        for registration in _all(self._by_prefix.get(prefix)):
            if registration.etr == etr:
                return registration
        return None

    def registrations(self, prefix: EidPrefix) -> tuple[Registration, ...]:
        """Every ETR's registration of exactly `prefix`."""
        return _all(self._by_prefix.get(prefix))

    def lookup(
        self, iid: int, eid: IPAddress, now: float | None = None
    ) -> tuple[EidPrefix, list[Registration]] | None:
        """The most specific registered prefix holding `eid`, with every ETR's registration.

        With `now`, registrations past their expiry are skipped (even before `expire`
        ran), and a prefix whose registrations have all lapsed gives way to the next
        covering one.
        """
        found = self._by_prefix.lookup(iid, eid)
        if found is None:
            return None
        prefix, held = found
        if now is None:
            return prefix, list(_all(held))
        for outer, outer_held in self._by_prefix.covering_all(prefix):
            live = [r for r in _all(outer_held) if now < r.expires_at]
            if live:
                return outer, live
        return None

    def items(self) -> list[tuple[EidPrefix, Registration]]:
        """Every registration with its prefix, in prefix order."""
        return [(prefix, r) for prefix, held in self._by_prefix.items() for r in _all(held)]

    def __iter__(self) -> Iterator[Registration]:
        for _, registration in self.items():
            yield registration

    def __len__(self) -> int:
        """Registrations held (one per prefix and ETR)."""
        return self._count

    def prefix_count(self) -> int:
        return len(self._by_prefix)

    # ------------------------------------------------------------ timers

    def expire(self, now: float) -> list[Registration]:
        """Remove every registration whose expiry is at or before `now`; what expired,
        by deadline, then prefix and ETR."""
        heap = self._expiry
        expired: list[Registration] = []
        while heap and heap[0][0] <= now:
            pair = heapq.heappop(heap)
            if not self._is_current(pair):
                continue
            registration = pair[1]
            if registration.expires_at <= now:
                self.remove(registration.prefix, registration.etr)
                expired.append(registration)
            else:
                self._schedule(registration)  # refreshed since it was scheduled
        expired.sort(key=lambda r: (r.expires_at, r.prefix.sort_key, r.etr))
        return expired

    def next_deadline(self) -> float | None:
        """The earliest expiry, or None when nothing is registered."""
        heap = self._expiry
        while heap:
            pair = heap[0]
            if not self._is_current(pair):
                heapq.heappop(heap)
            elif pair[1].expires_at != pair[0]:
                heapq.heapreplace(heap, (pair[1].expires_at, pair[1]))
                pair[1].scheduled = pair[1].expires_at
            else:
                return pair[0]
        return None
