"""A thread listening to rtnetlink notifications, that `stop` ends at once.

The thread blocks in select() on the netlink socket and a pipe; `stop` writes
to the pipe and joins. The socket is bound before the thread starts, so no
notification sent after construction is missed.
"""

from __future__ import annotations

import os
import select
import socket
import threading
from abc import ABC, abstractmethod


class NetlinkListener(ABC):
    """Subclasses set their own state, then call `__init__` (which starts the thread),
    and write `_run`: it returns when `_wait` says stop."""

    def __init__(self, groups: int, receive_bytes: int, name: str) -> None:
        """`groups`: the RTMGRP_* bits to listen to."""
        self._receive_bytes = receive_bytes
        self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_bytes)
        self._socket.bind((0, groups))
        self._socket.setblocking(False)
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        os.write(self._wake_write, b"x")
        self._thread.join()
        self._socket.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _wait(self) -> bool:
        """Block until notifications are queued (True) or `stop` was called (False)."""
        ready, _, _ = select.select([self._socket.fileno(), self._wake_read], [], [])
        return self._wake_read not in ready

    @abstractmethod
    def _run(self) -> None:
        """The thread's work: read notifications while `_wait()` is True."""
