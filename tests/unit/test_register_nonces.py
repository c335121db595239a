"""An ETR's Map-Register nonces never repeat within the process."""

from __future__ import annotations

import hashlib
import random

from helpers.xtr_fixtures import lisp1_config
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.etr import Etr
from lispstack.core.events import SendDatagram
from lispstack.core.register_nonces import RegisterNonces
from lispstack.core.xtr import build_xtr_roles
from lispstack.wire import MapRegister, decode_control

KEY = bytes(range(16))


class _Stuck(random.Random):
    """A random source gone wrong: the same bits every time."""

    def getrandbits(self, k: int, /) -> int:
        return (1 << k) - 1


def _unpermute(nonce: int) -> int:
    """The counter behind a nonce: the Feistel rounds run backwards (the reference)."""
    left, right = nonce >> 32, nonce & 0xFFFF_FFFF
    for round_number in reversed(range(4)):
        mixed = hashlib.blake2b(
            left.to_bytes(4, "big"), digest_size=4, key=KEY, salt=bytes([round_number])
        ).digest()
        left, right = right ^ int.from_bytes(mixed, "big"), left
    return (left << 32) | right


def test_the_nonces_are_a_permutation_of_a_counter() -> None:
    nonces = RegisterNonces(KEY)
    drawn = [nonces.next() for _ in range(20_000)]
    assert [_unpermute(n) for n in drawn] == list(range(1, 20_001))
    assert 0 not in drawn and all(n < 1 << 64 for n in drawn)
    assert len(set(drawn)) == len(drawn)
    # They do not look like a counter, and another key gives others.
    assert sorted(drawn) != drawn
    other = RegisterNonces(bytes(16))
    assert not set(drawn) & {other.next() for _ in range(20_000)}


def test_an_etr_never_repeats_a_nonce_even_with_a_stuck_random_source() -> None:
    counters = Counters()
    etr, *_ = build_xtr_roles(lisp1_config(), counters, DropRecorder(counters), _Stuck())
    assert isinstance(etr, Etr)
    nonces = []
    now = 0.0
    for _ in range(300):  # unanswered: retransmitted with backoff, a fresh nonce each time
        actions = etr.on_timer(now)
        actions += etr.shutdown(now) if len(nonces) == 150 else []
        for action in actions:
            if isinstance(action, SendDatagram):
                message = decode_control(action.payload)
                assert isinstance(message, MapRegister)
                nonces.append(message.nonce)
        deadline = etr.next_deadline()
        assert deadline is not None
        now = deadline
    assert len(nonces) >= 300
    assert len(set(nonces)) == len(nonces)
