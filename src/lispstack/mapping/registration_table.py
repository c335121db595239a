"""Map-Server registration state, generic in what an ETR registered.

One entry per (site name, EID prefix, registering ETR id). The ETR id is
whatever identifies a registering ETR to the caller: the xTR-ID bytes when
the Map-Register carries one, else its source RLOC. Several ETRs of one site
registering the same prefix keep separate entries; `registrations(prefix)`
and `lookup(iid, eid)` give all of them, and merging their RLOCs is the
caller's business. The caller also decides the expiry time (180 s by
default, or the record TTL when the Map-Register asks for it).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from lispstack.mapping.expiry_heap import ExpiryHeap
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.prefix_table import PrefixTable

V = TypeVar("V")

EtrId = Hashable
_EtrKey = tuple[str, EtrId]
_Key = tuple[str, EidPrefix, EtrId]


@dataclass(frozen=True, slots=True)
class EtrRegistration(Generic[V]):
    """What one ETR of one site registered for one EID prefix, and when."""

    site: str
    prefix: EidPrefix
    etr: EtrId
    data: V
    registered_at: float
    """First registration (kept across refreshes)."""
    last_seen: float
    expires_at: float

    def live(self, now: float) -> bool:
        return now < self.expires_at


def _equal(old: object, new: object) -> bool:
    return old == new


class RegistrationTable(Generic[V]):
    """Registrations by (site, prefix, ETR) with a merged per-prefix view and expiry."""

    __slots__ = ("_by_prefix", "_count", "_expiry", "_same", "generation")

    def __init__(self, same: Callable[[V, V], bool] = _equal) -> None:
        """`same(old, new)` says whether a refresh changed nothing that answers depend on."""
        self._by_prefix: PrefixTable[dict[_EtrKey, EtrRegistration[V]]] = PrefixTable()
        self._expiry: ExpiryHeap[_Key] = ExpiryHeap(self._is_current)
        self._same = same
        self._count = 0
        self.generation = 0
        """Bumped on every change visible in answers, so derived answers can be cached."""

    def _is_current(self, key: _Key, deadline: float) -> bool:
        found = self.get(*key)
        return found is not None and found.expires_at == deadline

    # ------------------------------------------------------------ changes

    def register(
        self,
        site: str,
        prefix: EidPrefix,
        etr: EtrId,
        data: V,
        *,
        now: float,
        expires_at: float,
    ) -> tuple[EtrRegistration[V], EtrRegistration[V] | None]:
        """Create or refresh one registration; returns (new, previous)."""
        by_etr = self._by_prefix.get(prefix)
        if by_etr is None:
            by_etr = {}
            self._by_prefix[prefix] = by_etr
        previous = by_etr.get((site, etr))
        if previous is None:
            current = EtrRegistration(site, prefix, etr, data, now, now, expires_at)
            self._count += 1
            self.generation += 1
        else:
            current = replace(previous, data=data, last_seen=now, expires_at=expires_at)
            if not self._same(previous.data, data):
                self.generation += 1
        by_etr[(site, etr)] = current
        self._expiry.push((site, prefix, etr), expires_at, self._count)
        return current, previous

    def remove(self, site: str, prefix: EidPrefix, etr: EtrId) -> EtrRegistration[V] | None:
        """Deregister (TTL 0) or forget one registration; what was there."""
        by_etr = self._by_prefix.get(prefix)
        if by_etr is None:
            return None
        removed = by_etr.pop((site, etr), None)
        if removed is not None:
            self._count -= 1
            self.generation += 1
            if not by_etr:
                self._by_prefix.pop(prefix)
        return removed

    def remove_site(self, site: str) -> list[EtrRegistration[V]]:
        """Forget every registration of `site` (e.g. the site left the configuration)."""
        gone = [reg for reg in self if reg.site == site]
        for reg in gone:
            self.remove(reg.site, reg.prefix, reg.etr)
        return gone

    # ------------------------------------------------------------ lookups

    def get(self, site: str, prefix: EidPrefix, etr: EtrId) -> EtrRegistration[V] | None:
        by_etr = self._by_prefix.get(prefix)
        return None if by_etr is None else by_etr.get((site, etr))

    def registrations(
        self, prefix: EidPrefix, now: float | None = None
    ) -> list[EtrRegistration[V]]:
        """Every ETR's registration of exactly `prefix` (only live ones when `now` is given)."""
        by_etr = self._by_prefix.get(prefix)
        if by_etr is None:
            return []
        if now is None:
            return list(by_etr.values())
        return [reg for reg in by_etr.values() if now < reg.expires_at]

    def lookup(
        self, iid: int, eid: IPAddress, now: float | None = None
    ) -> tuple[EidPrefix, list[EtrRegistration[V]]] | None:
        """The most specific registered prefix holding `eid`, with all its registrations.

        With `now`, registrations past their expiry are skipped (even before `expire`
        ran), and a prefix whose registrations have all lapsed gives way to the next
        covering one.
        """
        found = self._by_prefix.lookup(iid, eid)
        if found is None:
            return None
        prefix, by_etr = found
        if now is None:
            return prefix, list(by_etr.values())
        live = [reg for reg in by_etr.values() if now < reg.expires_at]
        if live:
            return prefix, live
        for outer, outer_by_etr in self._by_prefix.covering_all(prefix)[1:]:
            live = [reg for reg in outer_by_etr.values() if now < reg.expires_at]
            if live:
                return outer, live
        return None

    def __len__(self) -> int:
        """Registrations held (one per site, prefix and ETR)."""
        return self._count

    def prefix_count(self) -> int:
        return len(self._by_prefix)

    def __iter__(self) -> Iterator[EtrRegistration[V]]:
        """Every registration, in prefix order."""
        for _, by_etr in self._by_prefix.items():
            yield from list(by_etr.values())

    def sites(self) -> set[str]:
        """Sites with at least one registration."""
        return {reg.site for reg in self}

    # ------------------------------------------------------------ timers

    def expire(self, now: float) -> list[EtrRegistration[V]]:
        """Remove every registration whose expiry is at or before `now`; what expired."""
        expired: list[EtrRegistration[V]] = []
        for key in self._expiry.pop_due(now):
            removed = self.remove(*key)
            if removed is not None:
                expired.append(removed)
        return expired

    def next_deadline(self) -> float | None:
        """The earliest expiry, or None when nothing is registered."""
        return self._expiry.earliest()
