"""The node's instance locks (two open files of one lock conflict in one process too)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lispstack.io.instance_lock import (
    InstanceLock,
    lock_path,
    name_lock_path,
    remove_stale_lock,
)


def test_a_held_lock_refuses_a_second_holder_naming_the_first(tmp_path: Path) -> None:
    socket, names = tmp_path / "ms.sock", tmp_path / "names"
    with InstanceLock(socket, "ms", names):
        assert lock_path(socket).read_text() == f"{os.getpid()} ms\n"
        with pytest.raises(OSError) as refused:
            InstanceLock(socket, "other", names).acquire()
        assert refused.value.strerror == (
            f"node ms (pid {os.getpid()}) is already running on control socket {socket} "
            f"(lock {socket}.lock)"
        )
        assert not remove_stale_lock(lock_path(socket))  # held: not stale
    assert not lock_path(socket).exists()  # removed on release
    assert not name_lock_path("ms", names).parent.exists()  # with its empty directory
    assert tmp_path.exists()  # not the control socket's


def test_the_same_name_on_another_control_socket_is_refused(tmp_path: Path) -> None:
    names = tmp_path / "names"
    with InstanceLock(tmp_path / "a.sock", "xtr1", names):
        name_lock = name_lock_path("xtr1", names)
        assert name_lock.read_text() == f"{os.getpid()} xtr1\n"
        assert name_lock.parent.name == f"net-{os.stat('/proc/self/ns/net').st_ino}"
        with pytest.raises(OSError) as refused:
            InstanceLock(tmp_path / "b.sock", "xtr1", names).acquire()
        assert refused.value.strerror == (
            f"node xtr1 (pid {os.getpid()}) is already running in this network namespace "
            f"(lock {name_lock})"
        )
        # the refused start let go of the control-socket lock it had taken
        assert not lock_path(tmp_path / "b.sock").exists()
        with InstanceLock(tmp_path / "c.sock", "xtr2", names):  # another name starts
            pass
        assert name_lock.exists()  # xtr2's release left xtr1's lock and directory alone


def test_a_lock_file_nobody_holds_is_taken_or_removed(tmp_path: Path) -> None:
    socket, names = tmp_path / "ms.sock", tmp_path / "names"
    name_lock = name_lock_path("ms", names)
    name_lock.parent.mkdir(parents=True)
    for path in (lock_path(socket), name_lock):
        path.write_text("999999 ms\n")  # what a killed node left
    with InstanceLock(socket, "ms", names):
        assert lock_path(socket).read_text() == f"{os.getpid()} ms\n"
        assert name_lock.read_text() == f"{os.getpid()} ms\n"
    lock_path(socket).write_text("999999 ms\n")
    assert remove_stale_lock(lock_path(socket))
    assert not lock_path(socket).exists()
    assert not remove_stale_lock(lock_path(socket))  # nothing there


def test_a_node_not_run_as_root_keeps_its_name_locks_beside_its_control_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # /run/lispstack is root's
    with InstanceLock(tmp_path / "ms.sock", "ms"):
        assert name_lock_path("ms", tmp_path / "names").read_text() == f"{os.getpid()} ms\n"
        with pytest.raises(OSError, match="already running in this network namespace"):
            InstanceLock(tmp_path / "other.sock", "ms").acquire()
