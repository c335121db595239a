"""Longest-prefix match per (instance-id, address family), on pytricia's C patricia trie.

One trie per (iid, family); each trie maps the network to (EidPrefix, value), so
a lookup hands back the key object the caller inserted without re-parsing the
string pytricia returns. benchmarks/bench_mapping.py compares this with a pure
Python dict per mask length.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address
from typing import Generic, TypeVar

import pytricia

from lispstack.mapping.prefix import EidPrefix, IPAddress

V = TypeVar("V")

_Key = tuple[int, int]


def _node(prefix: EidPrefix) -> tuple[bytes, int]:
    """The trie key of `prefix`: pytricia parses (packed address, length) several times
    faster than an ipaddress network, which it formats and re-parses as text."""
    network = prefix.network
    return network.network_address.packed, network.prefixlen


class PrefixTable(Generic[V]):
    """EidPrefix -> V with exact, longest-prefix, covering and more-specific lookups."""

    __slots__ = ("_count", "_sizes", "_tries", "_tries_v4")

    def __init__(self) -> None:
        self._tries: dict[_Key, pytricia.PyTricia] = {}
        self._tries_v4: dict[int, pytricia.PyTricia] = {}
        """The IPv4 tries again, by instance-id alone: the lookup fast path."""
        self._sizes: dict[_Key, int] = {}
        """Entries per trie (pytricia's len() walks the whole trie)."""
        self._count = 0

    def _trie_for(self, prefix: EidPrefix) -> pytricia.PyTricia:
        key = (prefix.iid, prefix.family)
        trie = self._tries.get(key)
        if trie is None:
            trie = self._tries[key] = pytricia.PyTricia(prefix.network.max_prefixlen)
            self._sizes[key] = 0
            if prefix.family == 4:
                self._tries_v4[prefix.iid] = trie
        return trie

    # ------------------------------------------------------------ exact

    def __setitem__(self, prefix: EidPrefix, value: V) -> None:
        """Insert, or replace the value of an existing prefix."""
        trie = self._trie_for(prefix)
        node = _node(prefix)
        if not trie.has_key(node):
            self._count += 1
            self._sizes[(prefix.iid, prefix.family)] += 1
        trie[node] = (prefix, value)

    def __getitem__(self, prefix: EidPrefix) -> V:
        trie = self._tries.get((prefix.iid, prefix.family))
        node = _node(prefix)
        if trie is None or not trie.has_key(node):
            raise KeyError(prefix)
        entry: tuple[EidPrefix, V] = trie[node]
        return entry[1]

    def __contains__(self, prefix: object) -> bool:
        if not isinstance(prefix, EidPrefix):
            return False
        trie = self._tries.get((prefix.iid, prefix.family))
        return trie is not None and bool(trie.has_key(_node(prefix)))

    def get(self, prefix: EidPrefix) -> V | None:
        """The value stored for exactly `prefix`, or None."""
        trie = self._tries.get((prefix.iid, prefix.family))
        if trie is None:
            return None
        # One longest-match walk: what it finds contains `prefix`, so it is `prefix`
        # itself exactly when it is as long.
        entry: tuple[EidPrefix, V] | None = trie.get(_node(prefix))
        if entry is None or entry[0].network.prefixlen != prefix.network.prefixlen:
            return None
        return entry[1]

    def pop(self, prefix: EidPrefix) -> V | None:
        """Remove `prefix`; its value, or None when it was not there."""
        key = (prefix.iid, prefix.family)
        trie = self._tries.get(key)
        node = _node(prefix)
        if trie is None or not trie.has_key(node):
            return None
        entry: tuple[EidPrefix, V] = trie[node]
        trie.delete(node)
        self._count -= 1
        self._sizes[key] -= 1
        if self._sizes[key] == 0:
            del self._tries[key], self._sizes[key]
            if key[1] == 4:
                del self._tries_v4[key[0]]
        return entry[1]

    def __delitem__(self, prefix: EidPrefix) -> None:
        if prefix not in self:
            raise KeyError(prefix)
        self.pop(prefix)

    def clear(self) -> None:
        self._tries.clear()
        self._tries_v4.clear()
        self._sizes.clear()
        self._count = 0

    # ------------------------------------------------------------ longest-prefix match

    def lookup(self, iid: int, address: IPAddress) -> tuple[EidPrefix, V] | None:
        """The longest prefix holding `address` in instance `iid`, with its value."""
        entry: tuple[EidPrefix, V] | None
        # pytricia converts integers and bytes much faster than ipaddress objects.
        if address.__class__ is IPv4Address:
            trie = self._tries_v4.get(iid)
            if trie is None:
                return None
            entry = trie.get(int(address))
            return entry
        trie = self._tries.get((iid, address.version))
        if trie is None:
            return None
        entry = trie.get(int(address) if address.version == 4 else address.packed)
        return entry

    def lookup_v4(self, iid: int, address: int) -> tuple[EidPrefix, V] | None:
        """`lookup` for an IPv4 address given as an integer (data-path callers)."""
        trie = self._tries_v4.get(iid)
        if trie is None:
            return None
        entry: tuple[EidPrefix, V] | None = trie.get(address)
        return entry

    def covering(self, prefix: EidPrefix) -> tuple[EidPrefix, V] | None:
        """The longest entry that contains `prefix` (itself included)."""
        trie = self._tries.get((prefix.iid, prefix.family))
        if trie is None:
            return None
        entry: tuple[EidPrefix, V] | None = trie.get(_node(prefix))
        return entry

    def covering_all(self, prefix: EidPrefix) -> list[tuple[EidPrefix, V]]:
        """Every entry that contains `prefix` (itself included), most specific first."""
        trie = self._tries.get((prefix.iid, prefix.family))
        if trie is None:
            return []
        found: list[tuple[EidPrefix, V]] = []
        key = trie.get_key(_node(prefix))
        while key is not None:
            found.append(trie[key])
            key = trie.parent(key)
        return found

    def more_specifics(self, prefix: EidPrefix) -> list[tuple[EidPrefix, V]]:
        """Every entry strictly inside `prefix`, in prefix order."""
        trie = self._tries.get((prefix.iid, prefix.family))
        if trie is None:
            return []
        node = _node(prefix)
        if trie.has_key(node):
            children = trie.children(node)
        else:
            # pytricia only walks below an existing node: add a placeholder for the walk.
            trie[node] = None
            try:
                children = trie.children(node)
            finally:
                trie.delete(node)
        found: list[tuple[EidPrefix, V]] = [trie[child] for child in children]
        found.sort(key=lambda entry: entry[0].sort_key)
        return found

    # ------------------------------------------------------------ whole table

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[EidPrefix]:
        for prefix, _ in self.items():
            yield prefix

    def items(self) -> Iterator[tuple[EidPrefix, V]]:
        """Every entry, by instance-id, family, network address and length."""
        # Snapshots, so that callers may remove entries while iterating.
        for _, trie in sorted(self._tries.items(), key=lambda item: item[0]):
            # pytricia walks its trie in order: address, then shorter before longer.
            entries: list[tuple[EidPrefix, V]] = [trie[network] for network in trie]
            yield from entries

    def values(self) -> Iterator[V]:
        for _, value in self.items():
            yield value
