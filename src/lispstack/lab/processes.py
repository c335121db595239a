"""Processes of a lab: is one alive, stop one, stop every process in a namespace."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from lispstack.lab import netns


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def terminate(pids: list[int], timeout: float = 15.0) -> None:
    """SIGTERM, wait up to `timeout` for them to finish cleanly, then SIGKILL."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        for pid in pids:
            _reap(pid)
        time.sleep(0.05)
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _reap(pid)


def in_namespace(namespace: str) -> list[int]:
    """Every process whose network namespace is `namespace` (empty when it does not exist)."""
    try:
        listing = netns.ip("netns", "pids", namespace)
    except netns.NetnsError:
        return []
    return [int(line) for line in listing.split() if line.isdigit()]


def terminate_in(namespace: str, pid: int, timeout: float = 15.0) -> None:
    """Stop `pid` if it still runs in `namespace` (a recycled pid elsewhere is left alone)."""
    if pid in in_namespace(namespace):
        terminate([pid], timeout)
