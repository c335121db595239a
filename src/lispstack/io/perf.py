"""A Map-Resolver load generator: ECM Map-Requests with a bounded window (dnsperf for LISP).

Requests are pre-encoded once per EID with an inner UDP checksum of 0 (legal
over IPv4) so that only the nonce is patched per send; replies are matched
by nonce. A request unanswered after `timeout` seconds counts as lost and
frees its slot in the window.
"""

from __future__ import annotations

import random
import secrets
import selectors
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from lispstack.core.events import CONTROL_PORT
from lispstack.io.lig import local_address_towards
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import EidRecord

_NONCE = struct.Struct("!Q")
NONCE_OFFSET = 4 + 20 + 8 + 4  # ECM header, inner IPv4, inner UDP, Map-Request first word
MAX_PORTS = 256


@dataclass(frozen=True, slots=True)
class PerfResult:
    sent: int
    received: int
    lost: int
    elapsed: float
    latencies_ms: tuple[float, ...]

    @property
    def replies_per_second(self) -> float:
        return self.received / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def eids_from(spec: str, count: int = 10_000, seed: int = 1) -> list[IPv4Address]:
    """`count` random addresses inside a prefix, or the EIDs of a file (one a line)."""
    try:
        network = IPv4Network(spec)
    except ValueError:
        return _eids_of_file(spec)
    rng = random.Random(seed)
    base, size = int(network.network_address), network.num_addresses
    return [IPv4Address(base + rng.randrange(size)) for _ in range(count)]


def _eids_of_file(path: str) -> list[IPv4Address]:
    eids = []
    with open(path, encoding="ascii", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    eids.append(IPv4Address(line.strip()))
                except ValueError as error:
                    raise ValueError(f"{path}, line {number}: {error}") from None
    return eids


def templates(eids: Sequence[IPv4Address], itr_rloc: IPv4Address, port: int) -> list[bytes]:
    out = []
    for eid in eids:
        request = MapRequest(
            nonce=0, itr_rlocs=(itr_rloc,), records=(EidRecord(eid=eid, eid_mask_len=32),)
        )
        ecm = Ecm(
            source=itr_rloc, destination=eid, source_port=port, message=request, udp_checksum=0
        )
        out.append(ecm.encode())
    return out


def run_perf(
    resolver: IPv4Address,
    eids: Sequence[IPv4Address],
    *,
    duration: float,
    window: int,
    timeout: float = 1.0,
    ports: int = 1,
) -> PerfResult:
    """Ask `eids` in turn for `duration` seconds, at most `window` unanswered.

    With `ports` > 1 the requests leave from that many UDP sockets in turn
    (each its own inner source port), as from several ITRs: a resolver with
    several SO_REUSEPORT workers spreads them by source port.
    """
    itr_rloc = local_address_towards(resolver)
    assert isinstance(itr_rloc, IPv4Address)
    sockets: list[socket.socket] = []
    selector = selectors.DefaultSelector()
    try:
        for _ in range(ports):
            sockets.append(_socket(itr_rloc))
            selector.register(sockets[-1], selectors.EVENT_READ)
        return _run(resolver, eids, sockets, selector, duration, window, timeout)
    finally:
        selector.close()
        for sock in sockets:
            sock.close()


def _run(
    resolver: IPv4Address,
    eids: Sequence[IPv4Address],
    sockets: list[socket.socket],
    selector: selectors.BaseSelector,
    duration: float,
    window: int,
    timeout: float,
) -> PerfResult:
    ports = len(sockets)
    itr_rloc = IPv4Address(sockets[0].getsockname()[0])
    requests = [
        [bytearray(t) for t in templates(eids, itr_rloc, sock.getsockname()[1])] for sock in sockets
    ]
    target = (str(resolver), CONTROL_PORT)
    outstanding: dict[int, float] = {}
    latencies: list[float] = []
    sent = received = lost = 0
    nonce = secrets.randbits(63)  # then counted up: each reply names its request
    started = time.monotonic()
    end = started + duration
    while (now := time.monotonic()) < end:
        while len(outstanding) < window:
            turn = sent % ports
            packet = requests[turn][(sent // ports) % len(eids)]
            nonce += 1
            _NONCE.pack_into(packet, NONCE_OFFSET, nonce)
            try:
                sockets[turn].sendto(packet, target)
            except BlockingIOError:
                break
            outstanding[nonce] = time.monotonic()
            sent += 1
        for ready, _ in selector.select(0.01):
            sock = ready.fileobj
            assert isinstance(sock, socket.socket)
            while True:
                try:
                    reply = sock.recv(2048)
                except BlockingIOError:
                    break
                if len(reply) >= 12:
                    sent_at = outstanding.pop(_NONCE.unpack_from(reply, 4)[0], None)
                    if sent_at is not None:
                        received += 1
                        latencies.append((time.monotonic() - sent_at) * 1000)
        if outstanding and now - next(iter(outstanding.values())) > timeout:
            for key in [k for k, t in outstanding.items() if now - t > timeout]:
                del outstanding[key]
                lost += 1
    return PerfResult(
        sent, received, lost + len(outstanding), time.monotonic() - started, tuple(latencies)
    )


def _socket(itr_rloc: IPv4Address) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.bind((str(itr_rloc), 0))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
