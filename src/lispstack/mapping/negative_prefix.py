"""The prefix of a negative Map-Reply: least specific, containing the EID, overlapping nothing.

For an EID that no configured prefix covers, a prefix of length L containing
the EID contains a configured prefix P exactly when L <= len(P) and the EID
shares its first L bits with P. So the answer's length is one more than the
longest common prefix between the EID and any configured prefix (capped by
that prefix's length), and that maximum is reached at the EID's neighbours
in sorted order: two bisections, O(log n).
"""

from __future__ import annotations

import bisect
from ipaddress import ip_network

from lispstack.mapping.prefix import EidPrefix, IPAddress


class NegativePrefixFinder:
    """Configured prefixes per (instance-id, family), kept sorted by network address."""

    __slots__ = ("_sorted",)

    def __init__(self, prefixes: list[EidPrefix] | tuple[EidPrefix, ...] = ()) -> None:
        self._sorted: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for prefix in prefixes:
            self.add(prefix)

    def add(self, prefix: EidPrefix) -> None:
        entries = self._sorted.setdefault((prefix.iid, prefix.family), [])
        entry = (int(prefix.network.network_address), prefix.network.prefixlen)
        index = bisect.bisect_left(entries, entry)
        if index == len(entries) or entries[index] != entry:
            entries.insert(index, entry)

    def find(self, iid: int, eid: IPAddress) -> EidPrefix:
        """The negative prefix for `eid`, which no configured prefix may cover."""
        width = eid.max_prefixlen
        value = int(eid)
        entries = self._sorted.get((iid, eid.version), [])
        index = bisect.bisect_right(entries, (value, width + 1))
        longest = 0
        for neighbour in entries[max(index - 1, 0) : index + 1]:
            network, length = neighbour
            common = width - (network ^ value).bit_length()
            longest = max(longest, min(common, length))
        length = min(longest + 1, width) if entries else 0
        base = value >> (width - length) << (width - length) if length else 0
        return EidPrefix(iid, ip_network((base, length)))
