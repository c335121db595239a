"""Longest-prefix match per (instance-id, address family), on pytricia's C patricia trie."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

import pytricia

from lispstack.mapping.prefix import EidPrefix, IPAddress

V = TypeVar("V")


class PrefixTable(Generic[V]):
    """EidPrefix -> V with exact and longest-prefix lookups."""

    __slots__ = ("_tries",)

    def __init__(self) -> None:
        self._tries: dict[tuple[int, int], pytricia.PyTricia] = {}

    def _trie(self, iid: int, family: int, create: bool) -> pytricia.PyTricia | None:
        trie = self._tries.get((iid, family))
        if trie is None and create:
            trie = pytricia.PyTricia(32 if family == 4 else 128)
            self._tries[(iid, family)] = trie
        return trie

    def __setitem__(self, prefix: EidPrefix, value: V) -> None:
        trie = self._trie(prefix.iid, prefix.family, True)
        assert trie is not None
        trie[prefix.network] = (prefix, value)

    def get(self, prefix: EidPrefix) -> V | None:
        trie = self._trie(prefix.iid, prefix.family, False)
        if trie is None or not trie.has_key(prefix.network):
            return None
        entry: tuple[EidPrefix, V] = trie[prefix.network]
        return entry[1]

    def pop(self, prefix: EidPrefix) -> V | None:
        trie = self._trie(prefix.iid, prefix.family, False)
        if trie is None or not trie.has_key(prefix.network):
            return None
        entry: tuple[EidPrefix, V] = trie[prefix.network]
        trie.delete(prefix.network)
        return entry[1]

    def lookup(self, iid: int, address: IPAddress) -> tuple[EidPrefix, V] | None:
        """The longest prefix holding `address` in instance `iid`, with its value."""
        trie = self._tries.get((iid, address.version))
        if trie is None:
            return None
        entry: tuple[EidPrefix, V] | None = trie.get(address)
        return entry

    def covering(self, prefix: EidPrefix) -> tuple[EidPrefix, V] | None:
        """The longest entry that contains `prefix` (itself included)."""
        trie = self._tries.get((prefix.iid, prefix.family))
        if trie is None:
            return None
        entry: tuple[EidPrefix, V] | None = trie.get(prefix.network)
        return entry

    def __len__(self) -> int:
        return sum(len(trie) for trie in self._tries.values())

    def items(self) -> Iterator[tuple[EidPrefix, V]]:
        """Every entry, by instance-id, family and prefix."""
        for key in sorted(self._tries):
            trie = self._tries[key]
            for network in trie:
                yield trie[network]
