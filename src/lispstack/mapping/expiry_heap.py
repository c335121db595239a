"""A min-heap of (deadline, key) with lazy deletion and bounded garbage.

Owners keep the authoritative deadline per key; the heap may hold stale
pairs (a key refreshed, replaced or removed since it was pushed). Stale pairs
are dropped when they surface, and the whole heap is rebuilt from the live
deadlines when garbage outgrows the live set, so memory stays proportional to
what is stored even under constant churn.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class ExpiryHeap(Generic[K]):
    """Deadlines of keys; `is_current(key, deadline)` tells live pairs from stale ones."""

    __slots__ = ("_heap", "_is_current", "_seq")

    def __init__(self, is_current: Callable[[K, float], bool]) -> None:
        # The sequence number breaks ties so keys themselves are never compared.
        self._heap: list[tuple[float, int, K]] = []
        self._seq = 0
        self._is_current = is_current

    def push(self, key: K, deadline: float, live_count: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, key))
        if len(self._heap) > 2 * live_count + 64:
            self._compact()

    def _compact(self) -> None:
        self._heap = [item for item in self._heap if self._is_current(item[2], item[0])]
        heapq.heapify(self._heap)

    def rebuild(self, live: Iterable[tuple[K, float]]) -> None:
        self._heap = []
        for key, deadline in live:
            self._seq += 1
            self._heap.append((deadline, self._seq, key))
        heapq.heapify(self._heap)

    def clear(self) -> None:
        self._heap.clear()

    def _drop_stale_top(self) -> None:
        heap = self._heap
        while heap and not self._is_current(heap[0][2], heap[0][0]):
            heapq.heappop(heap)

    def earliest(self) -> float | None:
        """The earliest live deadline."""
        self._drop_stale_top()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[K]:
        """Pop every live key whose deadline is at or before `now`, earliest first."""
        heap = self._heap
        due: dict[K, None] = {}
        while heap and heap[0][0] <= now:
            deadline, _, key = heapq.heappop(heap)
            if self._is_current(key, deadline):
                due[key] = None
        return list(due)

    def peek_until(self, limit: float) -> list[K]:
        """Live keys with deadline <= limit, earliest first, without removing them.

        Walks only the part of the heap at or below `limit`: O(k log k) for k hits.
        """
        heap = self._heap
        found: dict[K, None] = {}
        frontier: list[tuple[float, int, int]] = []
        if heap and heap[0][0] <= limit:
            frontier.append((heap[0][0], heap[0][1], 0))
        while frontier:
            deadline, _, index = heapq.heappop(frontier)
            key = heap[index][2]
            if self._is_current(key, deadline):
                found[key] = None
            for child in (2 * index + 1, 2 * index + 2):
                if child < len(heap) and heap[child][0] <= limit:
                    heapq.heappush(frontier, (heap[child][0], heap[child][1], child))
        return list(found)

    def __len__(self) -> int:
        """Pairs held, stale ones included (for tests of the garbage bound)."""
        return len(self._heap)
