"""One process per node: an exclusive flock on `<control socket>.lock`.

The lock, not the socket file, says whether the node runs: the kernel drops a
flock when the last descriptor of its open file goes away, so a node killed
with SIGKILL leaves a file nobody holds, and the next start takes it. The
holder writes its pid and node name into the file, so a refused start can name it. Forked
workers inherit the descriptor; the lock is released when the last of them
and worker 0 have exited.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from lispstack.io.control_socket import cannot_create


def lock_path(control_socket: Path) -> Path:
    return control_socket.with_name(control_socket.name + ".lock")


class InstanceLock:
    """Held from `acquire` until `release` (or the process's end)."""

    def __init__(self, control_socket: Path, name: str) -> None:
        self.control_socket = control_socket
        self.path = lock_path(control_socket)
        self.name = name
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise OSError (EADDRINUSE) naming the process holding it.

        A file another start unlinked between our open and our flock is not the
        lock any more: open the new one and try again.
        """
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise OSError(
                    errno.EADDRINUSE,
                    f"{holder} is already running on control socket {self.control_socket} "
                    f"(lock {self.path})",
                ) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.name}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Remove the file while still holding it, then let go."""
        if self._fd is None:
            return
        _unlink_held(self._fd, self.path)
        os.close(self._fd)
        self._fd = None

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise OSError(error.errno, cannot_create(self.control_socket, error)) from None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def remove_stale_lock(control_socket: Path) -> bool:
    """Remove the lock file a killed node left (nobody holds it); whether it was removed."""
    path = lock_path(control_socket)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return _unlink_held(fd, path)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    """`node NAME (pid PID)` from what the holder wrote: "PID NAME"."""
    pid, _, name = os.pread(fd, 128, 0).decode(errors="replace").strip().partition(" ")
    return f"node {name or '?'} (pid {pid if pid.isdigit() else 'unknown'})"


def _unlink_held(fd: int, path: Path) -> bool:
    """Remove `path` if it still is the file `fd` holds locked; whether it was removed."""
    if not _same_file(fd, path):
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)
