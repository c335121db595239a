"""SMRs sent again until the ITR asks (RFC 9301 section 6.1).

When an ETR's database changes it sends each ITR that holds its mapping an
SMR; a lost SMR would leave that ITR on the old mapping until the mapping's
TTL ends. So each such SMR is sent again every `interval` seconds until an
SMR-invoked Map-Request from that ITR (one of its ITR-RLOCs) for that EID
prefix arrives, at most `retransmits` times. Bounded: at most `limit` SMRs wait
for their Map-Request, the oldest is given up first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from lispstack.core.events import IPAddress
from lispstack.core.local_eids import LocalPrefix
from lispstack.wire.address import Address

SMR_RETRANSMIT_S = 1.0
SMR_RETRANSMITS = 4
MAX_WAITING = 4096

_PrefixKey = tuple[int, int, int, int]


def prefix_key(prefix: LocalPrefix) -> _PrefixKey:
    return prefix.iid, prefix.version, prefix.network, prefix.length


@dataclass(slots=True)
class WaitingSmr:
    """An SMR to `itr` for our `prefix` (naming `their_eid`) whose Map-Request is awaited."""

    itr: IPAddress
    their_eid: Address
    prefix: LocalPrefix
    due: float
    left: int


class SmrRetransmits:
    __slots__ = ("_waiting", "interval", "limit", "retransmits")

    def __init__(
        self,
        interval: float = SMR_RETRANSMIT_S,
        retransmits: int = SMR_RETRANSMITS,
        limit: int = MAX_WAITING,
    ) -> None:
        self.interval = interval
        self.retransmits = retransmits
        self.limit = limit
        self._waiting: dict[tuple[IPAddress, _PrefixKey], WaitingSmr] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def sent(self, itr: IPAddress, their_eid: Address, prefix: LocalPrefix, now: float) -> None:
        """An SMR of a database change left: send it again unless its ITR asks in time."""
        if self.retransmits <= 0:
            return
        key = (itr, prefix_key(prefix))
        self._waiting.pop(key, None)
        while len(self._waiting) >= self.limit:
            del self._waiting[next(iter(self._waiting))]
        due = now + self.interval
        self._waiting[key] = WaitingSmr(itr, their_eid, prefix, due, self.retransmits)

    def answered(self, itr_rlocs: Iterable[Address], prefix: LocalPrefix) -> bool:
        """An SMR-invoked Map-Request for `prefix` from an ITR with these ITR-RLOCs: its
        SMR is not sent again. Whether one was waiting."""
        key = prefix_key(prefix)
        found = False
        for rloc in itr_rlocs:
            if isinstance(rloc, IPv4Address | IPv6Address):
                found = self._waiting.pop((rloc, key), None) is not None or found
        return found

    def due(self, now: float) -> list[WaitingSmr]:
        """The SMRs to send again now (each counts against its retransmissions)."""
        due = [w for w in self._waiting.values() if w.due <= now]
        for waiting in due:
            waiting.left -= 1
            waiting.due = now + self.interval
            if waiting.left <= 0:
                del self._waiting[(waiting.itr, prefix_key(waiting.prefix))]
        return due

    def next_deadline(self) -> float | None:
        return min((w.due for w in self._waiting.values()), default=None)
