"""Several worker processes for one Map-Server / Map-Resolver node (`[node] workers = N`).

Each worker is a NodeDaemon with its own UDP sockets on the node's addresses,
bound with SO_REUSEPORT, so that the kernel spreads datagrams over the
workers by their addresses and ports. Worker 0 is the process `lispstack run`
started: it binds every worker's sockets (so that an address it cannot bind
is reported before anything starts), forks the others, serves the control
socket, and stops the others when it stops. The workers talk over unix
datagram sockets in the abstract namespace, one per worker:

    R family address port payload   an accepted Map-Register as received, with
                                    the ETR's address and port: every other
                                    worker applies it to its own registrations
    Q query-id                      a request for the worker's counters
    A query-id JSON                 the counters, answering a Q

so every worker answers Map-Requests from the same registrations, and
`show statistics` on worker 0 sums the counters of all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import json
import logging
import os
import signal
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address

from lispstack.core.events import Endpoint

log = logging.getLogger("lispstack.workers")
_ENDPOINT = struct.Struct("!B16sH")
_QUERY = struct.Struct("!I")
SOCKET_BUFFER_BYTES = 4 << 20
MAX_BACKLOG = 100_000
"""Frames waiting for a busy sibling; more are dropped and counted."""
STATISTICS_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 5.0
_PR_SET_PDEATHSIG = 1


def _address(name: str, group: int, index: int) -> bytes:
    return f"\0lispstack/{name}/{group}/{index}".encode()


def encode_replica(payload: bytes, source: Endpoint) -> bytes:
    address = source.address
    return b"R" + _ENDPOINT.pack(address.version, address.packed, source.port) + payload


def decode_replica(frame: bytes) -> tuple[bytes, Endpoint]:
    version, packed, port = _ENDPOINT.unpack_from(frame, 1)
    address = IPv4Address(packed[:4]) if version == 4 else IPv6Address(packed)
    return frame[1 + _ENDPOINT.size :], Endpoint(address, port)


class WorkerLink:
    """One worker's end of the links to its siblings."""

    def __init__(self, name: str, group: int, index: int, count: int) -> None:
        self.index = index
        self.count = count
        self._peers = [_address(name, group, i) for i in range(count) if i != index]
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER_BYTES)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER_BYTES)
        self.socket.bind(_address(name, group, index))
        self.socket.setblocking(False)
        self._addresses = {i: _address(name, group, i) for i in range(count) if i != index}
        self.children: dict[int, int] = {}
        """Worker 0 only: the other workers' index by process id."""
        self._backlog: deque[tuple[bytes, bytes]] = deque()
        self._query_ids = itertools.count(1)
        self._answers: dict[int, list[dict[str, int]]] = {}
        self._answered: dict[int, asyncio.Event] = {}
        self.dropped = 0

    def replicate(self, payload: bytes, source: Endpoint) -> None:
        frame = encode_replica(payload, source)
        for peer in self._peers:
            self._send(frame, peer)

    def on_readable(
        self,
        apply_replica: Callable[[bytes, Endpoint], None],
        snapshot: Callable[[], dict[str, int]],
        count: Callable[[str], None],
    ) -> None:
        for _ in range(256):
            try:
                frame, sender = self.socket.recvfrom(1 << 17)
            except BlockingIOError:
                return
            if sender not in self._peers:
                # Abstract sockets have no permissions: only a sibling's own (bound,
                # hence unique) address is trusted.
                count("drop.worker-frame-not-from-a-worker")
                continue
            kind = frame[:1]
            if kind == b"R" and len(frame) > 1 + _ENDPOINT.size:
                apply_replica(*decode_replica(frame))
            elif kind == b"Q" and len(frame) == 1 + _QUERY.size:
                self._send(b"A" + frame[1:] + json.dumps(snapshot()).encode(), sender)
            elif kind == b"A" and len(frame) > 1 + _QUERY.size:
                self._take_answer(frame)

    async def statistics(self, own: dict[str, int]) -> dict[str, int]:
        """`own` plus every sibling's counters ("workers.unanswered" names the missing)."""
        query = next(self._query_ids)
        self._answers[query] = []
        answered = self._answered[query] = asyncio.Event()
        for peer in self._peers:
            self._send(b"Q" + _QUERY.pack(query), peer)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(answered.wait(), STATISTICS_TIMEOUT_S)
        answers = self._answers.pop(query)
        del self._answered[query]
        total = dict(own)
        for counters in answers:
            for name, value in counters.items():
                total[name] = total.get(name, 0) + value
        if len(answers) < len(self._peers):
            total["workers.unanswered"] = len(self._peers) - len(answers)
        return dict(sorted(total.items()))

    def reap(self) -> list[tuple[int, int, int]]:
        """(index, pid, wait status) of every child worker that has exited, now forgotten:
        nothing is replicated to it and `statistics` no longer waits for it."""
        exited = []
        for pid, index in list(self.children.items()):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                del self.children[pid]
                self._peers.remove(self._addresses[index])
                exited.append((index, pid, status))
        for query, answers in self._answers.items():
            if len(answers) >= len(self._peers):
                self._answered[query].set()
        return exited

    def _take_answer(self, frame: bytes) -> None:
        (query,) = _QUERY.unpack_from(frame, 1)
        answers = self._answers.get(query)
        if answers is None:
            return  # too late: that `show` has been answered without it
        try:
            counters = json.loads(frame[1 + _QUERY.size :])
        except ValueError:
            return
        answers.append({str(k): int(v) for k, v in counters.items()})
        if len(answers) >= len(self._peers):
            self._answered[query].set()

    def _send(self, frame: bytes, peer: bytes) -> None:
        if not self._backlog:
            try:
                self.socket.sendto(frame, peer)
                return
            except BlockingIOError:
                asyncio.get_running_loop().add_writer(self.socket.fileno(), self._flush)
            except OSError as error:  # the sibling is gone (it is being stopped)
                log.debug("worker %d: cannot reach a sibling: %s", self.index, error)
                return
        if len(self._backlog) >= MAX_BACKLOG:
            self.dropped += 1
            return
        self._backlog.append((frame, peer))

    def _flush(self) -> None:
        while self._backlog:
            frame, peer = self._backlog[0]
            try:
                self.socket.sendto(frame, peer)
            except BlockingIOError:
                return
            except OSError:
                pass
            self._backlog.popleft()
        asyncio.get_running_loop().remove_writer(self.socket.fileno())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_writer(self.socket.fileno())
        self.socket.close()


def die_with_parent(parent: int) -> None:
    """Have the kernel send SIGTERM when the parent (worker 0) dies; exit if it has."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(0)


def stop_children(children: list[int]) -> None:
    """SIGTERM every child worker and reap it; SIGKILL what is still there after a while."""
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    waiting = set(children)
    while waiting:
        for pid in list(waiting):
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            waiting.discard(pid)
        if waiting and time.monotonic() > deadline:
            for pid in waiting:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        if waiting:
            time.sleep(0.02)
