"""The Map-Server's registration store: RegistrationTable bound to mapping records.

Keeps the interface the Map-Server role uses (keyed by EID prefix and ETR id,
the site travelling inside each Registration) on top of the generic
RegistrationTable. MappingRecord is only named for type checking: this layer
does not import the wire codecs at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.registration_table import RegistrationTable

if TYPE_CHECKING:
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


def _same_answer(old: Registration, new: Registration) -> bool:
    """Refreshes that change neither the record nor proxy-reply keep cached answers valid."""
    return old.record == new.record and old.proxy_reply == new.proxy_reply


class RegistrationStore:
    """Registrations keyed by (EID prefix, ETR id); longest-prefix match over them."""

    __slots__ = ("_table",)

    def __init__(self) -> None:
        self._table: RegistrationTable[Registration] = RegistrationTable(_same_answer)

    @property
    def generation(self) -> int:
        """Bumped on every change, so that answers derived from the store can be cached."""
        return self._table.generation

    def put(self, prefix: EidPrefix, etr: str, registration: Registration) -> None:
        previous = self.get(prefix, etr)
        if previous is not None and previous.site != registration.site:
            self._table.remove(previous.site, prefix, etr)
        self._table.register(
            registration.site,
            prefix,
            etr,
            registration,
            now=registration.last_registered,
            expires_at=registration.expires_at,
        )

    def get(self, prefix: EidPrefix, etr: str) -> Registration | None:
        for entry in self._table.registrations(prefix):
            if entry.etr == etr:
                return entry.data
        return None

    def remove(self, prefix: EidPrefix, etr: str) -> Registration | None:
        previous = self.get(prefix, etr)
        if previous is None:
            return None
        self._table.remove(previous.site, prefix, etr)
        return previous

    def lookup(self, iid: int, eid: IPAddress) -> tuple[EidPrefix, list[Registration]] | None:
        """The most specific registered prefix holding `eid`, with every ETR's registration."""
        found = self._table.lookup(iid, eid)
        if found is None:
            return None
        prefix, entries = found
        return prefix, [entry.data for entry in entries]

    def expire(self, now: float) -> list[Registration]:
        return [entry.data for entry in self._table.expire(now)]

    def next_deadline(self) -> float | None:
        return self._table.next_deadline()

    def items(self) -> list[tuple[EidPrefix, Registration]]:
        return [(entry.prefix, entry.data) for entry in self._table]

    def __len__(self) -> int:
        return len(self._table)
