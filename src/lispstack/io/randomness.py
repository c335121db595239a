"""Nonces and xTR-IDs from the operating system's CSPRNG, drawn 4 KiB at a time.

The nonce is the only check an ITR makes on an incoming Map-Reply, so
nonces must not be predictable from the ones seen before (a Mersenne Twister
is, after 624 outputs). The core takes its randomness as a `random.Random`
parameter; production passes a `BatchedSystemRandom`, tests a seeded
`random.Random`.

random.SystemRandom costs a getrandom() system call per draw (0.74 µs of CPU
here, against 0.17 µs for this class: docs/performance.md), and the ITR
draws a 24-bit nonce for every packet it encapsulates; one os.urandom(4096)
call serves 1024 draws of up to 32 bits instead. A child
process forked after draws drops the unused batch, so that no two processes
hand out the same values.
"""

from __future__ import annotations

import os
import random
import weakref
from array import array
from collections.abc import Callable
from typing import Any, NoReturn

BATCH_BYTES = 4096
_WORD_BITS = 32
_WORD = next(code for code in "IL" if array(code).itemsize == 4)


class BatchedSystemRandom(random.Random):
    """random.Random's interface over the OS CSPRNG: `getrandbits`, `random`, and
    what the base class derives from them (`uniform`, `randrange`, ...).

    `source` (os.urandom) is what tests replace to see the batches.
    """

    def __init__(
        self, source: Callable[[int], bytes] = os.urandom, batch_bytes: int = BATCH_BYTES
    ) -> None:
        if batch_bytes < 4 or batch_bytes % 4:
            raise ValueError(f"a batch is a positive number of 32-bit words, not {batch_bytes}")
        self._source = source
        self._batch_bytes = batch_bytes
        self._words = array(_WORD)
        """Unused 32-bit words of the current batch, drawn from the end (an array:
        filling it is a copy, and each word becomes an int only when drawn)."""
        super().__init__()
        _LIVE.add(self)

    def getrandbits(self, k: int) -> int:
        words = self._words
        if 0 <= k <= 32 and words:  # literals: the data plane draws here per packet
            return words.pop() >> (32 - k)
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        value = 0
        count = -(-k // _WORD_BITS)
        for _ in range(count):
            if not words:
                words = self._refill()
            value = (value << _WORD_BITS) | words.pop()
        return value >> (count * _WORD_BITS - k)

    def random(self) -> float:
        """A float in [0, 1) with 53 random bits, as random.Random gives."""
        return self.getrandbits(53) * (1.0 / (1 << 53))

    def _refill(self) -> array[int]:
        self._words = array(_WORD, self._source(self._batch_bytes))
        return self._words

    def _forget_batch(self) -> None:
        self._words = array(_WORD)

    def seed(self, a: Any = None, version: int = 2) -> None:
        """Nothing to seed: the operating system provides the entropy."""

    def getstate(self) -> NoReturn:
        raise NotImplementedError("the system's randomness has no state to save")

    def setstate(self, state: Any) -> NoReturn:
        raise NotImplementedError("the system's randomness has no state to restore")


_LIVE: weakref.WeakSet[BatchedSystemRandom] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for rng in list(_LIVE):
        rng._forget_batch()


os.register_at_fork(after_in_child=_after_fork_in_child)
