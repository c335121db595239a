"""The production randomness: the OS CSPRNG in batches, behind random.Random's interface."""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from helpers.xtr_fixtures import lisp1_config
from lispstack.core.build import build_node
from lispstack.core.etr import Etr
from lispstack.core.itr import Itr
from lispstack.core.node import Node
from lispstack.io import daemon
from lispstack.io.daemon import NodeDaemon
from lispstack.io.randomness import BATCH_BYTES, BatchedSystemRandom


class CountingSource:
    """Batches of consecutive 32-bit words (native order, as the class reads them)."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self._next = 1

    def __call__(self, size: int) -> bytes:
        self.calls.append(size)
        words = list(range(self._next, self._next + size // 4))
        self._next += size // 4
        return b"".join(w.to_bytes(4, sys.byteorder) for w in words)


def _words(rng: random.Random, count: int, bits: int = 32) -> Iterator[int]:
    return (rng.getrandbits(bits) for _ in range(count))


def test_values_are_in_range_for_every_width() -> None:
    rng = BatchedSystemRandom()
    for bits in (0, 1, 7, 8, 23, 24, 31, 32, 33, 63, 64, 100, 128):
        for _ in range(200):
            assert 0 <= rng.getrandbits(bits) < 1 << bits
    for _ in range(1000):
        assert 0.0 <= rng.random() < 1.0
        assert 0.9 <= rng.uniform(0.9, 1.1) <= 1.1
    assert rng.getrandbits(0) == 0
    with pytest.raises(ValueError, match="non-negative"):
        rng.getrandbits(-1)


def test_no_repeats_across_refills() -> None:
    rng = BatchedSystemRandom()
    draws = 20 * BATCH_BYTES // 8  # 64-bit values spanning ten batches
    assert len(set(_words(rng, draws, 64))) == draws


def test_draws_use_every_word_once_and_refill_at_the_boundary() -> None:
    source = CountingSource()
    rng = BatchedSystemRandom(source, batch_bytes=16)  # four words a batch
    assert source.calls == []  # nothing drawn before the first use
    first = list(_words(rng, 4))
    assert sorted(first) == [1, 2, 3, 4] and source.calls == [16]
    assert rng.getrandbits(32) in (5, 6, 7, 8) and source.calls == [16, 16]
    assert rng.getrandbits(24) in {w >> 8 for w in (5, 6, 7, 8)}  # the top bits of a word


def test_a_wide_draw_spans_the_refill() -> None:
    source = CountingSource()
    rng = BatchedSystemRandom(source, batch_bytes=8)  # two words a batch
    rng.getrandbits(32)  # one word left
    value = rng.getrandbits(64)  # that word, then one of the next batch
    assert source.calls == [8, 8]
    high, low = value >> 32, value & 0xFFFF_FFFF
    assert high in (1, 2) and low in (3, 4)
    assert rng.getrandbits(40) >> 8 in (3, 4)  # whatever is left, then more


def test_a_forked_child_draws_a_fresh_batch() -> None:
    rng = BatchedSystemRandom()
    rng.getrandbits(24)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next value, and nothing else
        try:
            os.write(write, rng.getrandbits(32).to_bytes(4, "big"))
        finally:
            os._exit(0)
    os.close(write)
    child = int.from_bytes(os.read(read, 4), "big")
    os.close(read)
    os.waitpid(pid, 0)
    assert child != rng.getrandbits(32)  # the parent's next value: not shared


def test_it_has_no_state_to_seed_save_or_restore() -> None:
    rng = BatchedSystemRandom()
    rng.seed(1)
    assert rng.getrandbits(64) != BatchedSystemRandom().getrandbits(64)
    with pytest.raises(NotImplementedError):
        rng.getstate()
    with pytest.raises(NotImplementedError):
        rng.setstate(())


@pytest.mark.parametrize("size", [0, 2, 6])
def test_a_batch_is_whole_words(size: int) -> None:
    with pytest.raises(ValueError, match="32-bit words"):
        BatchedSystemRandom(batch_bytes=size)


def _rngs(node: Node) -> list[object]:
    found: list[object] = []
    for role in node.roles:
        if isinstance(role, Etr | Itr):
            found.append(role.rng)
        if isinstance(role, Itr):
            found.append(role.client._rng)
    return found


def test_the_daemon_builds_its_node_with_the_system_randomness() -> None:
    rngs = _rngs(NodeDaemon(lisp1_config()).node)
    assert len(rngs) == 3 and all(type(rng) is BatchedSystemRandom for rng in rngs)


def test_run_daemon_builds_its_node_with_the_system_randomness(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[Node] = []

    def spying_build(*args: Any) -> Node:
        built.append(build_node(*args))
        return built[-1]

    class NotRun:
        def __init__(self, *args: object, **options: object) -> None:
            pass

        async def run(self) -> None:
            pass

    monkeypatch.setattr(daemon, "build_node", spying_build)
    monkeypatch.setattr(daemon, "NodeDaemon", NotRun)
    monkeypatch.setattr(daemon, "DataPlane", lambda *args: None)  # no TUN device here
    monkeypatch.setattr(daemon.gc, "set_threshold", lambda *args: None)  # not this process's
    monkeypatch.setattr(daemon, "InstanceLock", lambda *args: contextlib.nullcontext())
    daemon.run_daemon(lisp1_config())
    (node,) = built
    rngs = _rngs(node)
    assert len(rngs) == 3 and all(type(rng) is BatchedSystemRandom for rng in rngs)
