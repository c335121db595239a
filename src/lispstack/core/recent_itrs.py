"""The ITRs an ETR has seen recently: who may hold its mapping, and so gets an SMR.

An ITR counts as holding our mapping when it asked for it (a Map-Request, its
ITR-RLOC) or sent us encapsulated traffic (the outer source) within
`max_age` seconds. The table keeps, per ITR-RLOC, when it was last seen and
one EID of its own (the request's source EID or the inner source of its
packets), which the SMR names. Bounded: the least recently seen ITR goes
first. The data path only writes once a second per ITR.
"""

from __future__ import annotations

from collections import OrderedDict
from ipaddress import IPv4Address, IPv6Address

from lispstack.core.encapsulation import inner_ints
from lispstack.core.events import IPAddress
from lispstack.wire.address import NO_ADDRESS, Address, with_instance_id
from lispstack.wire.errors import DecodeError

MAX_ITRS = 1024
MAX_AGE_S = 600.0
"""An ITR silent for longer is assumed to have let our mapping go (or it asks again)."""
DATA_REFRESH_S = 1.0


class RecentItrs:
    __slots__ = ("_seen", "limit", "max_age")

    def __init__(self, limit: int = MAX_ITRS, max_age: float = MAX_AGE_S) -> None:
        self.limit = limit
        self.max_age = max_age
        self._seen: OrderedDict[IPAddress, tuple[float, Address]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def saw(self, itr: IPAddress, eid: Address, now: float) -> None:
        """`itr` asked for our mapping (or sent to us) from `eid` (NO_ADDRESS: unknown)."""
        previous = self._seen.pop(itr, None)
        if eid is NO_ADDRESS and previous is not None:
            eid = previous[1]
        self._seen[itr] = (now, eid)
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)

    def saw_data(self, itr: IPAddress, iid: int, inner: bytes, now: float) -> None:
        """An encapsulated packet from `itr`: remembered at most once a second."""
        seen = self._seen.get(itr)
        if seen is not None and now - seen[0] < DATA_REFRESH_S:
            return
        try:
            version, src, _ = inner_ints(inner)
        except DecodeError:
            return
        source = IPv4Address(src) if version == 4 else IPv6Address(src)
        self.saw(itr, with_instance_id(iid, source), now)

    def current(self, now: float) -> list[tuple[IPAddress, Address]]:
        """(ITR-RLOC, an EID of its own) of every ITR seen within `max_age`, oldest first."""
        while self._seen:
            itr, (when, _) = next(iter(self._seen.items()))
            if now - when <= self.max_age:
                break
            del self._seen[itr]
        return [(itr, eid) for itr, (_, eid) in self._seen.items()]
