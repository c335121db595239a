"""A table that starts afresh when full: the process's caches of things it can rebuild.

Encoded answers, parsed peer addresses, shared tuples: each is a pure
function of its key, so losing them costs one rebuild, and a flood of
distinct keys must not grow them without bound. Emptying the whole table
when it holds `limit` entries is the cheapest bound there is (no order to
keep per entry), and what is in use comes back at once.

Reads go straight to `entries`, a plain dict (`cache.entries.get(key)`): a
hit is one dict lookup, which the hot paths rely on. (A dict subclass would
read the same but costs more per lookup: CPython specialises dict methods
and subscripts for the exact dict type only.) Only adding goes through
`put` or `shared`. Nothing here imports the rest of the package, so every
layer (wire, mapping, core) may use it.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    __slots__ = ("entries", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a bounded cache holds at least one entry, not {limit}")
        self.entries: dict[K, V] = {}
        """For reads only; always this same dict (emptied in place, never replaced)."""
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        """Store `value` under `key`, emptying the cache first when it is full; `value`."""
        entries = self.entries
        if len(entries) >= self.limit:
            entries.clear()
        entries[key] = value
        return value

    def shared(self, key: K, value: V) -> V:
        """The value already under `key`, else `value` (stored): one object for equal ones."""
        found = self.entries.get(key)
        if found is not None:
            return found
        return self.put(key, value)
