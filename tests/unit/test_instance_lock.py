"""The node's instance lock (two open files of one lock conflict in one process too)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lispstack.io.instance_lock import InstanceLock, lock_path, remove_stale_lock


def test_a_held_lock_refuses_a_second_holder_naming_the_first(tmp_path: Path) -> None:
    socket = tmp_path / "ms.sock"
    with InstanceLock(socket, "ms"):
        assert lock_path(socket).read_text() == f"{os.getpid()} ms\n"
        with pytest.raises(OSError) as refused:
            InstanceLock(socket, "other").acquire()
        assert refused.value.strerror == (
            f"node ms (pid {os.getpid()}) is already running on control socket {socket} "
            f"(lock {socket}.lock)"
        )
        assert not remove_stale_lock(socket)  # held: not stale
    assert not lock_path(socket).exists()  # removed on release


def test_a_lock_file_nobody_holds_is_taken_or_removed(tmp_path: Path) -> None:
    socket = tmp_path / "ms.sock"
    lock_path(socket).write_text("999999 ms\n")  # what a killed node left
    with InstanceLock(socket, "ms"):
        assert lock_path(socket).read_text() == f"{os.getpid()} ms\n"
    lock_path(socket).write_text("999999 ms\n")
    assert remove_stale_lock(socket)
    assert not lock_path(socket).exists()
    assert not remove_stale_lock(socket)  # nothing there
