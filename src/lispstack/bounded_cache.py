"""A dict that starts afresh when full: the process's caches of things it can rebuild.

Encoded answers, parsed peer addresses, shared tuples: each is a pure
function of its key, so losing them costs one rebuild, and a flood of
distinct keys must not grow them without bound. Emptying the whole table
when it holds `limit` entries is the cheapest bound there is (no order to
keep per entry), and what is in use comes back at once.

Reads are the dict's own (`get`, `[]`, `in`): a hit costs a dict lookup and
nothing more, which the hot paths rely on. Only adding goes through `put` or
`shared`. Nothing here imports the rest of the package, so every layer
(wire, mapping, core) may use it.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(dict[K, V], Generic[K, V]):
    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a bounded cache holds at least one entry, not {limit}")
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        """Store `value` under `key`, emptying the cache first when it is full; `value`."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value

    def shared(self, key: K, value: V) -> V:
        """The value already under `key`, else `value` (stored): one object for equal ones."""
        found = self.get(key)
        if found is not None:
            return found
        return self.put(key, value)
