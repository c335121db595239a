"""Map-Server registration state: per EID prefix, per registering ETR, with expiry."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.prefix_table import PrefixTable
from lispstack.wire.records import MappingRecord


@dataclass(frozen=True, slots=True)
class Registration:
    """What one ETR registered for one EID prefix."""

    site: str
    record: MappingRecord
    registered_by: str
    proxy_reply: bool
    xtr_id: int | None
    nonce: int
    first_registered: float
    last_registered: float
    expires_at: float


class RegistrationStore:
    """Registrations keyed by (EID prefix, ETR id); longest-prefix match over live ones."""

    __slots__ = ("_expiry", "_table", "generation")

    def __init__(self) -> None:
        self._table: PrefixTable[dict[str, Registration]] = PrefixTable()
        self._expiry: list[tuple[float, EidPrefix, str]] = []
        self.generation = 0
        """Bumped on every change, so that answers derived from the store can be cached."""

    def put(self, prefix: EidPrefix, etr: str, registration: Registration) -> None:
        by_etr = self._table.get(prefix)
        if by_etr is None:
            by_etr = {}
            self._table[prefix] = by_etr
        previous = by_etr.get(etr)
        if (
            previous is None
            or previous.record != registration.record
            or (previous.proxy_reply != registration.proxy_reply)
        ):
            self.generation += 1
        by_etr[etr] = registration
        heapq.heappush(self._expiry, (registration.expires_at, prefix, etr))

    def get(self, prefix: EidPrefix, etr: str) -> Registration | None:
        by_etr = self._table.get(prefix)
        return None if by_etr is None else by_etr.get(etr)

    def remove(self, prefix: EidPrefix, etr: str) -> Registration | None:
        by_etr = self._table.get(prefix)
        if by_etr is None:
            return None
        removed = by_etr.pop(etr, None)
        if removed is not None:
            self.generation += 1
        if not by_etr:
            self._table.pop(prefix)
        return removed

    def lookup(self, iid: int, eid: IPAddress) -> tuple[EidPrefix, list[Registration]] | None:
        """The most specific registered prefix holding `eid`, with every ETR's registration."""
        found = self._table.lookup(iid, eid)
        if found is None:
            return None
        prefix, by_etr = found
        return prefix, list(by_etr.values())

    def expire(self, now: float) -> list[Registration]:
        expired = []
        while self._expiry and self._expiry[0][0] <= now:
            expires_at, prefix, etr = heapq.heappop(self._expiry)
            current = self.get(prefix, etr)
            if current is not None and current.expires_at == expires_at:
                self.remove(prefix, etr)
                expired.append(current)
        return expired

    def next_deadline(self) -> float | None:
        return self._expiry[0][0] if self._expiry else None

    def items(self) -> list[tuple[EidPrefix, Registration]]:
        return [(prefix, reg) for prefix, by_etr in self._table.items() for reg in by_etr.values()]

    def __len__(self) -> int:
        return sum(len(by_etr) for _, by_etr in self._table.items())
