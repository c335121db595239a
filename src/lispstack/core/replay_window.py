"""The nonces each ETR used in accepted Map-Registers, remembered for the replay window.

A Map-Register is authenticated as a whole, nonce included, so a captured
one can only be replayed as it is: refusing every nonce that (site, ETR) has
used within the window refuses every replay within it. The ETR is its
xTR-ID, or its source address without one.

Sized for a Map-Server with 10,000 ETRs refreshing every minute (14.4
million nonces a day), about 14 bytes of RSS a nonce
(benchmarks/bench_replay_window.py). Each ETR's nonces sit in time slices
of an eighth of the window: a sorted array of 64-bit nonces (8 bytes each,
binary search) plus, in the newest slice only, a set of the latest ones,
merged into the array when it grows past half of it (each nonce is then
copied about three times). A closed slice adds a one-hash bit filter of 16
bits a nonce, so that a fresh nonce (the common case) is told apart in one
probe, not a binary search (which costs a Python int per step). A slice is
forgotten once everything in it is older than the window, so a nonce is
remembered for at least the window and at most an eighth longer. Every
slice is also queued globally in creation order, which makes forgetting
the oldest slices O(1) whoever they belong to.

Bounds, and what happens past them (counted, the caller logs them):
- MAX_PER_ETR nonces for one (site, ETR) (45 Map-Registers a minute for
  24 hours): its oldest slice is forgotten early, so that ETR's window
  shrinks to what its slices still cover ("replay-window.shortened").
- MAX_TOTAL nonces in all (about 110 MiB): the oldest slice of any ETR is
  forgotten early ("replay-window.shortened" too).
A replay of a Map-Register older than what is still remembered is accepted.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Hashable

SLICES = 8
MAX_PER_ETR = 65_536
MAX_TOTAL = 8_388_608
_MERGE_MIN = 16
_FILTER_BYTES_PER_NONCE = 2
_SEALED: set[int] = set()
"""The `latest` of every sealed slice (never added to): an empty set each would cost 216 bytes."""
_FORGOTTEN = array("Q")


class _Slice:
    """The nonces one ETR used from `created` on, for at most an eighth of the window."""

    __slots__ = ("created", "filter", "key", "latest", "live", "size", "sorted")

    def __init__(self, key: Hashable, created: float) -> None:
        self.key = key
        self.created = created
        self.sorted = array("Q")
        self.latest = _SEALED
        self.filter: bytearray | None = None
        """Set when the slice is closed: bit (nonce mod its size) of every nonce in it."""
        self.live = True
        self.size = 0

    def add(self, nonce: int) -> None:
        latest = self.latest
        if latest is _SEALED:
            latest = self.latest = set()
        latest.add(nonce)
        self.size += 1
        if len(latest) > max(_MERGE_MIN, len(self.sorted) >> 1):
            self._merge()

    def _merge(self) -> None:
        """Merge the latest nonces into the sorted array (linear: Timsort merges two runs)."""
        if self.latest:
            self.sorted = array("Q", sorted([*self.sorted, *sorted(self.latest)]))
            self.latest = _SEALED

    def close(self) -> None:
        """No more nonces: merge them all, and build the filter."""
        self._merge()
        bits = bytearray(max(8, _FILTER_BYTES_PER_NONCE * len(self.sorted)))
        size = len(bits) << 3
        for nonce in self.sorted:
            bit = nonce % size
            bits[bit >> 3] |= 1 << (bit & 7)
        self.filter = bits

    def forget(self) -> None:
        self.live = False
        self.sorted, self.latest, self.filter, self.size = _FORGOTTEN, _SEALED, None, 0


class _Etr:
    """One (site, ETR)'s slices, oldest first, and how many nonces they hold."""

    __slots__ = ("count", "slices")

    def __init__(self) -> None:
        self.slices: list[_Slice] = []
        self.count = 0


class ReplayWindow:
    """Which nonces each (site, ETR) used in the last `window` seconds."""

    __slots__ = (
        "_by_etr",
        "_next_expiry",
        "_queue",
        "_total",
        "max_per_etr",
        "max_total",
        "shortened",
        "window",
    )

    def __init__(
        self, window: float, *, max_per_etr: int = MAX_PER_ETR, max_total: int = MAX_TOTAL
    ) -> None:
        self.window = window
        self.max_per_etr = max_per_etr
        self.max_total = max_total
        self._by_etr: dict[Hashable, _Etr] = {}
        self._queue: deque[_Slice] = deque()
        """Every slice in creation order, forgotten ones too until they reach the head."""
        self._next_expiry = math.inf
        """When the oldest slice expires (or earlier: `forget_expired` then finds nothing)."""
        self._total = 0
        self.shortened = 0
        """Slices forgotten before their time, past a bound (a counter for the caller)."""

    def seen(self, key: Hashable, nonce: int) -> bool:
        """Did (site, ETR) `key` use `nonce` in a remembered Map-Register?"""
        etr = self._by_etr.get(key)
        if etr is None:
            return False
        for held in etr.slices:  # (inline: this runs for every Map-Register)
            bits = held.filter
            if bits is not None:
                bit = nonce % (len(bits) << 3)
                if not bits[bit >> 3] >> (bit & 7) & 1:
                    continue
            elif nonce in held.latest:
                return True
            found = held.sorted
            index = bisect_left(found, nonce)
            if index < len(found) and found[index] == nonce:
                return True
        return False

    def add(self, key: Hashable, nonce: int, now: float) -> None:
        """Remember that `key` used `nonce` at `now` (in an accepted Map-Register)."""
        if now >= self._next_expiry:
            self.forget_expired(now)
        etr = self._by_etr.get(key)
        if etr is None:
            etr = self._by_etr[key] = _Etr()
        slices = etr.slices
        newest = slices[-1] if slices else None
        if (
            newest is None
            or now - newest.created >= self.window / SLICES
            or newest.size >= self.max_per_etr // SLICES
        ):
            if newest is not None:
                newest.close()
            newest = _Slice(key, now)
            slices.append(newest)
            self._queue.append(newest)
            self._next_expiry = min(self._next_expiry, now + self._lifetime())
        newest.add(nonce)
        etr.count += 1
        self._total += 1
        while etr.count > self.max_per_etr:
            self._forget(slices[0])
            self.shortened += 1
        while self._total > self.max_total and (oldest := self._oldest()) is not None:
            self._forget(oldest)
            self.shortened += 1

    def forget_expired(self, now: float) -> None:
        """Forget the slices whose every nonce is older than the window."""
        lifetime = self._lifetime()
        while (oldest := self._oldest()) is not None and oldest.created + lifetime <= now:
            self._forget(oldest)
        self._next_expiry = math.inf if oldest is None else oldest.created + lifetime

    def _lifetime(self) -> float:
        """From a slice's creation until its newest nonce is older than the window."""
        return self.window + self.window / SLICES

    def __len__(self) -> int:
        """Nonces remembered, over every ETR."""
        return self._total

    def _oldest(self) -> _Slice | None:
        queue = self._queue
        while queue and not queue[0].live:
            queue.popleft()
        return queue[0] if queue else None

    def _forget(self, oldest: _Slice) -> None:
        """Forget an ETR's oldest slice."""
        etr = self._by_etr[oldest.key]
        del etr.slices[0]
        size = oldest.size
        etr.count -= size
        self._total -= size
        if not etr.slices:
            del self._by_etr[oldest.key]
        oldest.forget()  # it may wait in the queue a while
        if self._queue and self._queue[0] is oldest:
            self._queue.popleft()
