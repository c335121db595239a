"""The prefix of a negative Map-Reply: least specific, containing the EID, overlapping nothing.

RFC 9301 (Map-Resolver): for an EID that no configured prefix covers, answer
with the least-specific prefix that contains the EID and overlaps no
configured prefix. A prefix of length L holding the EID overlaps a configured
prefix P = (n, l) exactly when the EID and n share their first min(L, l) bits.
Since P does not hold the EID, they share fewer than l bits, so the overlap
condition is simply "L <= common(EID, n)". The answer's length is therefore
one more than the longest common prefix between the EID and any configured
network address -- and over a sorted set of integers, the longest common
prefix with a value is reached at its two neighbours. One bisection per find.

The sorted network addresses (one per configured prefix, duplicates allowed)
are kept per (instance-id, family); additions are appended and the list is
re-sorted lazily at the next find (Timsort merges an appended tail in about
linear time), so bulk loads cost one sort.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network

from lispstack.mapping.prefix import EidPrefix, IPAddress

_Key = tuple[int, int]


@lru_cache(maxsize=4096)
def _prefix(iid: int, family: int, base: int, length: int) -> EidPrefix:
    """Building the network object costs more than finding it; answers repeat a lot
    (every EID far from all sites gets the same /1), so recent ones are kept."""
    # The family's own class: ip_network((0, 0)) would be IPv4 even for an IPv6 EID.
    network_class = IPv4Network if family == 4 else IPv6Network
    return EidPrefix(iid, network_class((base, length)))


class NegativePrefixFinder:
    """Configured prefixes per (instance-id, family), as sorted network-address integers."""

    __slots__ = ("_unsorted", "_values")

    def __init__(self, prefixes: Iterable[EidPrefix] = ()) -> None:
        self._values: dict[_Key, list[int]] = {}
        self._unsorted: set[_Key] = set()
        self.update(prefixes)

    def add(self, prefix: EidPrefix) -> None:
        key = (prefix.iid, prefix.family)
        self._values.setdefault(key, []).append(int(prefix.network.network_address))
        self._unsorted.add(key)

    def update(self, prefixes: Iterable[EidPrefix]) -> None:
        for prefix in prefixes:
            self.add(prefix)

    def remove(self, prefix: EidPrefix) -> None:
        """Forget one configured prefix (KeyError when it was never added)."""
        key = (prefix.iid, prefix.family)
        values = self._sorted(key)
        value = int(prefix.network.network_address)
        index = bisect.bisect_left(values, value)
        if index == len(values) or values[index] != value:
            raise KeyError(prefix)
        del values[index]
        if not values:
            del self._values[key]

    def __len__(self) -> int:
        return sum(len(values) for values in self._values.values())

    def _sorted(self, key: _Key) -> list[int]:
        values = self._values.get(key)
        if values is None:
            return []
        if key in self._unsorted:
            values.sort()
            self._unsorted.discard(key)
        return values

    def find_length(self, iid: int, family: int, value: int) -> int:
        """The negative prefix's length for the EID whose address is the integer `value`.

        Precondition: no configured prefix of (iid, family) holds the EID (the
        Map-Resolver checks its site table first); otherwise the result is meaningless.
        """
        values = self._values.get((iid, family))
        if not values:
            return 0
        if (iid, family) in self._unsorted:
            values = self._sorted((iid, family))
        width = 32 if family == 4 else 128
        index = bisect.bisect_right(values, value)
        longest = 0
        if index:
            longest = width - (values[index - 1] ^ value).bit_length()
        if index < len(values):
            longest = max(longest, width - (values[index] ^ value).bit_length())
        return min(longest + 1, width)

    def find(self, iid: int, eid: IPAddress) -> EidPrefix:
        """The negative prefix for `eid`, which no configured prefix may hold."""
        value = int(eid)
        width = eid.max_prefixlen
        length = self.find_length(iid, eid.version, value)
        host_bits = width - length
        return _prefix(iid, eid.version, value >> host_bits << host_bits, length)
