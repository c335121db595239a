"""One process per node: exclusive flocks on its control socket and on its name.

Two locks, taken before any socket is bound:

- `<control socket>.lock`: one process per control socket;
- `/run/lispstack/names/net-INODE/NAME.lock`: one process per node name in a
  network namespace (INODE: the inode of /proc/self/ns/net). Names are scoped
  per network namespace because labs and tests run nodes of the same name in
  namespaces of their own (`xtr1` in two labs); two nodes named `xtr1` in one
  namespace are refused, whatever their control sockets. A node not run as
  root (a Map-Server needs no privileges) cannot write /run/lispstack: its
  name locks live in a `names` directory beside its control socket.

The locks, not the files, say whether the node runs: the kernel drops a
flock when the last descriptor of its open file goes away, so a node killed
with SIGKILL leaves files nobody holds, and the next start takes them. The
holder writes its pid and node name into each file, so a refused start can
name it. Forked workers inherit the descriptors; the locks are released when
the last of them and worker 0 have exited.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from lispstack.io.control_socket import DEFAULT_DIRECTORY, cannot_create

NAMES_DIRECTORY = DEFAULT_DIRECTORY / "names"
OPEN_ATTEMPTS = 5


def lock_path(control_socket: Path) -> Path:
    return control_socket.with_name(control_socket.name + ".lock")


def name_lock_path(name: str, directory: Path = NAMES_DIRECTORY) -> Path:
    """The name lock of node `name` in this process's network namespace."""
    return directory / f"net-{os.stat('/proc/self/ns/net').st_ino}" / f"{name}.lock"


class FileLock:
    """An exclusive flock on `path`, its holder ("PID NAME") written into the file."""

    def __init__(
        self, path: Path, name: str, held_by: str, create_error: Path, own_directory: bool = False
    ) -> None:
        """`held_by`: what a refused start says after the holder ("is already running
        on ..."); `create_error`: the path a failure to create the file names;
        `own_directory`: the file's directory is removed with it when left empty."""
        self.path = path
        self.name = name
        self._held_by = held_by
        self._create_error = create_error
        self._own_directory = own_directory
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
                    errno.EADDRINUSE, f"{holder} {self._held_by} (lock {self.path})"
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
        if self._own_directory:
            with contextlib.suppress(OSError):  # not empty: another node's lock is there
                self.path.parent.rmdir()

    def _open(self) -> int:
        """Open (create) the file; again if another node's release removed its directory
        between our mkdir and our open."""
        for _ in range(OPEN_ATTEMPTS - 1):
            with contextlib.suppress(FileNotFoundError):
                return self._open_once()
        return self._open_once()

    def _open_once(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:  # OSError(ENOENT, ...) is a FileNotFoundError again
            raise OSError(error.errno, cannot_create(self._create_error, error)) from None


class InstanceLock:
    """The control-socket lock, then the name lock; held from `acquire` until
    `release` (or the process's end)."""

    def __init__(
        self, control_socket: Path, name: str, names_directory: Path | None = None
    ) -> None:
        if names_directory is None:
            root = os.geteuid() == 0
            names_directory = NAMES_DIRECTORY if root else control_socket.parent / "names"
        name_path = name_lock_path(name, names_directory)
        self._locks = (
            FileLock(
                lock_path(control_socket),
                name,
                f"is already running on control socket {control_socket}",
                control_socket,
            ),
            FileLock(
                name_path,
                name,
                "is already running in this network namespace",
                name_path,
                own_directory=True,
            ),
        )

    def acquire(self) -> None:
        taken: list[FileLock] = []
        try:
            for lock in self._locks:
                lock.acquire()
                taken.append(lock)
        except OSError:
            for lock in reversed(taken):
                lock.release()
            raise

    def release(self) -> None:
        for lock in reversed(self._locks):
            lock.release()

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def remove_stale_lock(path: Path) -> bool:
    """Remove the lock file `path` a killed node left (nobody holds it); whether it was."""
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
