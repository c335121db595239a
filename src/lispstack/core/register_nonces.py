"""Map-Register nonces that never repeat within the process, yet cannot be guessed.

The n-th nonce is a keyed permutation of n: a four-round Feistel network
over 64 bits whose round function is BLAKE2b under a key drawn once from the
node's random source. A Feistel network is a permutation whatever its round
function, so distinct counters give distinct nonces: none repeats before
2**64 Map-Registers (a Map-Server refuses a repeated nonce as a replay, see
core/replay_window.py), and without the key the next nonce is not told by
the last. A restarted ETR draws a new key; its nonces meet the previous
process's only by chance (about n*m/2**64 for n and m Map-Registers).
"""

from __future__ import annotations

import hashlib

_ROUNDS = 4
_HALF = 0xFFFF_FFFF


class RegisterNonces:
    """The nonces of one ETR's Map-Registers, in the order they are sent."""

    __slots__ = ("_count", "_key")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._count = 0

    def next(self) -> int:
        while True:
            self._count += 1
            nonce = self._permute(self._count)
            if nonce:  # never 0, which reads as "no nonce"
                return nonce

    def _permute(self, value: int) -> int:
        left, right = value >> 32, value & _HALF
        for round_number in range(_ROUNDS):
            mixed = hashlib.blake2b(
                right.to_bytes(4, "big"), digest_size=4, key=self._key, salt=bytes([round_number])
            ).digest()
            left, right = right, left ^ int.from_bytes(mixed, "big")
        return (left << 32) | right
