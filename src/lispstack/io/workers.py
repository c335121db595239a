"""Several worker processes for one Map-Server / Map-Resolver node (`[node] workers = N`).

Each worker is a NodeDaemon with its own UDP sockets on the node's addresses,
bound with SO_REUSEPORT, so that the kernel spreads datagrams over the
workers by their addresses and ports. Worker 0 is the process `lispstack run`
started: it binds every worker's sockets (so that an address it cannot bind
is reported before anything starts), forks the others, serves the control
socket, and stops the others when it stops.

Every two workers share a unix datagram socket pair, made before the fork:
nothing outside the node can reach it, and a connected pair is flow
controlled by the sender's buffer (its writability means what it says).
Frames on a pair:

    R family address port payload   an accepted Map-Register as received, with
                                    the ETR's address and port: the receiver
                                    applies it to its own registrations
    Q query-id                      a request for the receiver's counters
    A query-id JSON                 the counters, answering a Q

so every worker answers Map-Requests from the same registrations, and
`show statistics` on worker 0 sums the counters of all of them. A worker
that has exited still counts with the last counters it answered; worker 0
asks for them every minute (`refresh_counters`), so what dies with a killed
worker is at most its last minute's. Replicas of
one ETR's messages arrive in order (one source address and port reaches one
worker); messages of one ETR from several source ports, accepted by several
workers within a moment, may be applied in different orders, until the
ETR's next refresh settles them.
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
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

from lispstack.core.events import Endpoint

log = logging.getLogger("lispstack.workers")
_ENDPOINT = struct.Struct("!B16sH")
_QUERY = struct.Struct("!I")
SOCKET_BUFFER_BYTES = 4 << 20
MAX_FRAME_BYTES = 1 << 17
MAX_BACKLOG = 100_000
"""Frames waiting for a busy sibling; more are dropped and counted."""
STATISTICS_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 5.0
_PR_SET_PDEATHSIG = 1

Count = Callable[[str], None]


def encode_replica(payload: bytes, source: Endpoint) -> bytes:
    address = source.address
    return b"R" + _ENDPOINT.pack(address.version, address.packed, source.port) + payload


def decode_replica(frame: bytes) -> tuple[bytes, Endpoint]:
    version, packed, port = _ENDPOINT.unpack_from(frame, 1)
    address = IPv4Address(packed[:4]) if version == 4 else IPv6Address(packed)
    return frame[1 + _ENDPOINT.size :], Endpoint(address, port)


@dataclass(eq=False)
class _Sibling:
    index: int
    socket: socket.socket
    backlog: deque[bytes] = field(default_factory=deque)


class WorkerLink:
    """One worker's ends of the socket pairs to its siblings."""

    def __init__(self, index: int, count: int) -> None:
        self.index = index
        self.count = count
        self._siblings: dict[int, _Sibling] = {}
        self.children: dict[int, int] = {}
        """Worker 0 only: the other workers' index by process id."""
        self._query_ids = itertools.count(1)
        self._answers: dict[int, list[dict[str, int]]] = {}
        self._answered: dict[int, asyncio.Event] = {}
        self._last_answers: dict[int, dict[str, int]] = {}
        """The last counters each sibling answered; kept in `_departed` once it is gone."""
        self._departed: Counter[str] = Counter()
        self._count: Count = lambda name: None

    def start(
        self,
        apply_replica: Callable[[bytes, Endpoint], None],
        snapshot: Callable[[], dict[str, int]],
        count: Count,
    ) -> None:
        """Serve the pairs from the running event loop."""
        self._count = count
        loop = asyncio.get_running_loop()
        for sibling in self._siblings.values():
            loop.add_reader(sibling.socket.fileno(), self._read, sibling, apply_replica, snapshot)

    def replicate(self, payload: bytes, source: Endpoint) -> None:
        frame = encode_replica(payload, source)
        for sibling in list(self._siblings.values()):
            self._send(sibling, frame)

    async def statistics(self, own: dict[str, int]) -> dict[str, int]:
        """`own` plus every sibling's counters ("workers.unanswered" counts the silent)."""
        query = next(self._query_ids)
        answers: list[dict[str, int]] = []
        self._answers[query] = answers
        answered = self._answered[query] = asyncio.Event()
        try:
            for sibling in list(self._siblings.values()):
                self._send(sibling, b"Q" + _QUERY.pack(query))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(answered.wait(), STATISTICS_TIMEOUT_S)
        finally:
            del self._answers[query], self._answered[query]
        total = dict(own)
        for counters in [*answers, self._departed]:
            for name, value in counters.items():
                total[name] = total.get(name, 0) + value
        if len(answers) < len(self._siblings):
            total["workers.unanswered"] = len(self._siblings) - len(answers)
        return dict(sorted(total.items()))

    def refresh_counters(self) -> None:
        """Ask every sibling for its counters, kept for when it is gone (query id 0:
        nobody waits for the answers)."""
        for sibling in list(self._siblings.values()):
            self._send(sibling, b"Q" + _QUERY.pack(0))

    def reap(self) -> list[tuple[int, int, int]]:
        """(index, pid, wait status) of every child worker that has exited, now forgotten."""
        exited = []
        for pid, index in list(self.children.items()):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                del self.children[pid]
                sibling = self._siblings.get(index)
                if sibling is not None:
                    self._forget(sibling)
                exited.append((index, pid, status))
        return exited

    def close(self) -> None:
        for sibling in list(self._siblings.values()):
            self._forget(sibling)

    def close_unused(self) -> None:
        """In a process that is not this worker: close this worker's ends, unwatched."""
        for sibling in self._siblings.values():
            sibling.socket.close()
        self._siblings.clear()

    # ------------------------------------------------------------ frames

    def _read(
        self,
        sibling: _Sibling,
        apply_replica: Callable[[bytes, Endpoint], None],
        snapshot: Callable[[], dict[str, int]],
    ) -> None:
        for _ in range(256):
            try:
                frame = sibling.socket.recv(MAX_FRAME_BYTES)
            except BlockingIOError:
                return
            except OSError:
                self._forget(sibling)
                return
            kind = frame[:1]
            if kind == b"R" and len(frame) > 1 + _ENDPOINT.size:
                apply_replica(*decode_replica(frame))
            elif kind == b"Q" and len(frame) == 1 + _QUERY.size:
                self._send(sibling, b"A" + frame[1:] + json.dumps(snapshot()).encode())
            elif kind == b"A" and len(frame) > 1 + _QUERY.size:
                self._take_answer(sibling, frame)
            else:
                self._count("drop.worker-frame-malformed")

    def _take_answer(self, sibling: _Sibling, frame: bytes) -> None:
        (query,) = _QUERY.unpack_from(frame, 1)
        try:
            decoded = json.loads(frame[1 + _QUERY.size :])
            counters = {str(k): int(v) for k, v in decoded.items()}
        except (ValueError, TypeError, AttributeError):
            self._count("drop.worker-frame-malformed")
            return
        self._last_answers[sibling.index] = counters
        answers = self._answers.get(query)
        if answers is None:
            return  # too late: that `show` has been answered without it
        answers.append(counters)
        if len(answers) >= len(self._siblings):
            self._answered[query].set()

    def _send(self, sibling: _Sibling, frame: bytes) -> None:
        if sibling.backlog:
            self._queue(sibling, frame)
            return
        try:
            sibling.socket.send(frame)
        except BlockingIOError:
            self._queue(sibling, frame)
            asyncio.get_running_loop().add_writer(sibling.socket.fileno(), self._flush, sibling)
        except OSError as error:  # the sibling is gone
            log.debug("worker %d: worker %d is gone: %s", self.index, sibling.index, error)
            self._forget(sibling)

    def _queue(self, sibling: _Sibling, frame: bytes) -> None:
        if len(sibling.backlog) >= MAX_BACKLOG:
            self._count("drop.worker-replication-backlog")
            return
        sibling.backlog.append(frame)

    def _flush(self, sibling: _Sibling) -> None:
        while sibling.backlog:
            try:
                sibling.socket.send(sibling.backlog[0])
            except BlockingIOError:
                return
            except OSError:
                self._forget(sibling)
                return
            sibling.backlog.popleft()
        asyncio.get_running_loop().remove_writer(sibling.socket.fileno())

    def _forget(self, sibling: _Sibling) -> None:
        """Stop talking to a sibling: nothing is sent to it, `statistics` stops waiting for it."""
        if self._siblings.pop(sibling.index, None) is None:
            return
        self._departed.update(self._last_answers.pop(sibling.index, {}))
        with contextlib.suppress(RuntimeError):  # no running loop (closing after it)
            loop = asyncio.get_running_loop()
            loop.remove_reader(sibling.socket.fileno())
            loop.remove_writer(sibling.socket.fileno())
        sibling.socket.close()
        for query, answers in self._answers.items():
            if len(answers) >= len(self._siblings):
                self._answered[query].set()


def link_workers(count: int, buffer_bytes: int = SOCKET_BUFFER_BYTES) -> list[WorkerLink]:
    """Links for `count` workers, a socket pair between every two of them."""
    links = [WorkerLink(index, count) for index in range(count)]
    for one, other in itertools.combinations(links, 2):
        ends = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        for link, peer, end in ((one, other, ends[0]), (other, one, ends[1])):
            end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer_bytes)
            end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_bytes)
            end.setblocking(False)
            link._siblings[peer.index] = _Sibling(peer.index, end)
    return links


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
