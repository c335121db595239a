"""Which BPF map-cache entries the encapsulation program used: a byte per entry, mmap'ed.

Each encapsulating entry gets a slot, carried in its map-cache value; the
program sets the slot's byte of the lisp_used array (BPF_F_MMAPABLE) on a hit,
and the sweep (once a second) reads the whole array through the mapping and
clears the bytes it found set. Reading the flag back from the LPM trie cost a
map lookup per entry: 0.8-1.1 s a sweep at 100,000 entries, the whole loop's
time (docs/performance.md).
"""

from __future__ import annotations

import mmap

from lispstack.core.xtr_cache import EntryKey
from lispstack.io import ebpf_layout as layout


class UsedSlots:
    """Slots for the keys of encapsulating entries, and the used bytes behind them."""

    def __init__(self, fd: int, words: int) -> None:
        """`fd`: the lisp_used array; `words`: its max_entries (layout.used_words)."""
        self._capacity = words * layout.SLOTS_PER_WORD
        size = -(-self._capacity // mmap.PAGESIZE) * mmap.PAGESIZE
        self._bytes = mmap.mmap(fd, size)
        self._slots: dict[EntryKey, int] = {}
        self._keys: dict[int, EntryKey] = {}
        self._free: list[int] = []
        self._next = 0
        """Slots below this one have been handed out (the sweep reads no further)."""

    def slot(self, key: EntryKey) -> int:
        """The slot of `key`: its own, else a free one with its byte cleared; NO_SLOT
        when every slot is taken (its uses then go unseen, as if it were never used)."""
        slot = self._slots.get(key)
        if slot is not None:
            return slot
        if self._free:
            slot = self._free.pop()
        elif self._next < self._capacity:
            slot, self._next = self._next, self._next + 1
        else:
            return layout.NO_SLOT
        self._bytes[slot] = 0
        self._slots[key], self._keys[slot] = slot, key
        return slot

    def release(self, key: EntryKey) -> None:
        """`key`'s entry no longer encapsulates (its map value is gone or replaced)."""
        slot = self._slots.pop(key, None)
        if slot is not None:
            del self._keys[slot]
            self._free.append(slot)

    def take(self) -> list[EntryKey]:
        """The keys the program used since the last call (their bytes cleared)."""
        seen = self._bytes[: self._next]
        used = []
        slot = seen.find(1)
        while slot >= 0:
            self._bytes[slot] = 0
            key = self._keys.get(slot)
            if key is not None:
                used.append(key)
            slot = seen.find(1, slot + 1)
        return used

    def close(self) -> None:
        self._bytes.close()
