"""The used slots of the kernel map-cache's entries, over a memory file standing in for
the mmap'ed BPF array (the program's side: tests/integration/test_ebpf_programs.py)."""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator

import pytest

from lispstack.io import ebpf_layout as layout
from lispstack.io.ebpf_used import UsedSlots

A, B, C = ((0, 4, n << 8, 24) for n in range(3))


@pytest.fixture
def memory() -> Iterator[int]:
    fd = os.memfd_create("lisp_used")
    os.ftruncate(fd, mmap.PAGESIZE)
    try:
        yield fd
    finally:
        os.close(fd)


def _mark(fd: int, slot: int) -> None:
    """What the program does on a hit."""
    os.pwrite(fd, b"\x01", slot)


def test_each_key_keeps_its_slot_and_each_use_is_told_once(memory: int) -> None:
    used = UsedSlots(memory, 2)
    slots = [used.slot(key) for key in (A, B, C)]
    assert slots == [0, 1, 2] and used.slot(B) == 1
    _mark(memory, 0)
    _mark(memory, 2)
    assert used.take() == [A, C]
    assert used.take() == []
    used.close()


def test_a_released_slot_goes_to_the_next_key_cleared(memory: int) -> None:
    used = UsedSlots(memory, 1)
    used.slot(A)
    used.slot(B)
    _mark(memory, 0)
    used.release(A)
    assert used.slot(C) == 0
    assert used.take() == []  # A's use is not C's
    used.release(B)
    _mark(memory, 1)  # a use by B's stale value after its release: nobody's
    assert used.take() == []
    used.close()


def test_no_slot_when_every_slot_is_taken(memory: int) -> None:
    used = UsedSlots(memory, 1)
    assert [used.slot((0, 4, n, 32)) for n in range(layout.SLOTS_PER_WORD)] == list(range(8))
    assert used.slot(A) == layout.NO_SLOT
    used.close()
