"""The ITR's outstanding Map-Requests: nonces, retransmission, Map-Resolver failover, packet queues.

One `PendingRequest` per destination EID being resolved. The first miss
sends a Map-Request; while it is outstanding, packets to the same
destination wait in a bounded queue (per destination and overall) and leave
when the Map-Reply installs a mapping. No reply: retransmit after 1 s, 2 s,
4 s (RFC 9301: doubling), then the next Map-Resolver; when every
Map-Resolver has had its turn the request is given up and its packets dropped.
At most one Map-Request per second per destination, and at most
`max_pending` new ones per second in all: a scan of the EID space is bounded
in every table here (requests, queued packets, recent requests, deadlines).

Pure logic: the ITR builds and sends the messages this module asks for.
"""

from __future__ import annotations

import heapq
import random
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import ip_network

from lispstack.core.events import IPAddress
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.prefix_table import PrefixTable

RETRANSMIT_WAITS = (1.0, 2.0, 4.0)
"""Seconds to wait after each send to one Map-Resolver before the next send."""
MIN_REQUEST_INTERVAL = 1.0
QUEUE_PER_DESTINATION = 16
QUEUE_TOTAL = 1024
MAX_PENDING = 4096

RequestKey = tuple[int, IPAddress]
"""(instance-id, destination EID) of one outstanding Map-Request."""


@dataclass(slots=True)
class PendingRequest:
    key: RequestKey
    nonce: int
    source_eid: IPAddress | None
    started: float
    resolver_index: int = 0
    sends: int = 0
    """Map-Requests sent to the current Map-Resolver."""
    next_send: float = 0.0
    refresh: bool = False
    """A refresh of a live map-cache entry: no packets wait for it."""
    smr_invoked: bool = False
    """Sent because of an SMR (the s bit, RFC 9301 section 6.1)."""
    queue: deque[bytes] = field(default_factory=deque)

    @property
    def iid(self) -> int:
        return self.key[0]

    @property
    def eid(self) -> IPAddress:
        return self.key[1]


@dataclass(frozen=True, slots=True)
class RequestToSend:
    """Send (or resend) `pending`'s Map-Request to `resolver`."""

    pending: PendingRequest
    resolver: IPAddress


@dataclass(frozen=True, slots=True)
class MissOutcome:
    """What a map-cache miss led to: a Map-Request to send and/or the packet's fate."""

    request: RequestToSend | None
    queued: bool
    drop_reason: str | None = None


class ResolverClient:
    __slots__ = (
        "_by_key",
        "_by_nonce",
        "_deadlines",
        "_index",
        "_last_request",
        "_queued",
        "_rng",
        "max_pending",
        "queue_per_destination",
        "queue_total",
        "resolvers",
    )

    def __init__(
        self,
        resolvers: Sequence[IPAddress],
        rng: random.Random,
        *,
        queue_per_destination: int = QUEUE_PER_DESTINATION,
        queue_total: int = QUEUE_TOTAL,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.resolvers = tuple(resolvers)
        self._rng = rng
        self.queue_per_destination = queue_per_destination
        self.queue_total = queue_total
        self.max_pending = max_pending
        self._by_key: dict[RequestKey, PendingRequest] = {}
        self._by_nonce: dict[int, PendingRequest] = {}
        self._last_request: OrderedDict[RequestKey, float] = OrderedDict()
        """When a Map-Request last went out per destination, for the last second, oldest first."""
        self._deadlines: list[tuple[float, int]] = []
        """(next send, nonce) of the requests, stale pairs included (at most 2 per request + 64)."""
        self._index: PrefixTable[PendingRequest] = PrefixTable()
        """The requests by destination (host prefixes), to find those a reply covers."""
        self._queued = 0

    # ------------------------------------------------------------ queries

    def __len__(self) -> int:
        return len(self._by_key)

    @property
    def queued_packets(self) -> int:
        return self._queued

    def pending(self, key: RequestKey) -> PendingRequest | None:
        return self._by_key.get(key)

    def pending_list(self) -> list[PendingRequest]:
        return list(self._by_key.values())

    def next_deadline(self) -> float | None:
        deadlines = self._deadlines
        while deadlines:
            when, nonce = deadlines[0]
            if self._due(when, nonce) is not None:
                return when
            heapq.heappop(deadlines)
        return None

    def recent_requests(self) -> int:
        """Destinations a Map-Request went to within the last second (bounded by max_pending)."""
        return len(self._last_request)

    def deadline_backlog(self) -> int:
        """Deadline pairs held, stale ones included: bounded by the outstanding requests."""
        return len(self._deadlines)

    # ------------------------------------------------------------ inputs

    def on_miss(
        self,
        key: RequestKey,
        source_eid: IPAddress | None,
        packet: bytes | None,
        now: float,
        *,
        refresh: bool = False,
    ) -> MissOutcome:
        """A packet (or a refresh, packet None) needs a mapping for `key`."""
        pending = self._by_key.get(key)
        if pending is not None:
            return MissOutcome(None, *self._enqueue(pending, packet))
        if not self.resolvers:
            return MissOutcome(None, False, "no-map-resolver")
        last = self._last_request.get(key)
        if last is not None and now - last < MIN_REQUEST_INTERVAL:
            return MissOutcome(None, False, "map-request-rate-limited")
        if len(self._by_key) >= self.max_pending:
            return MissOutcome(None, False, "map-request-table-full")
        self._forget_old_requests(now)
        if len(self._last_request) >= self.max_pending:
            return MissOutcome(None, False, "map-request-rate-limited")
        pending = PendingRequest(
            key=key, nonce=self._new_nonce(), source_eid=source_eid, started=now, refresh=refresh
        )
        self._by_key[key] = pending
        self._by_nonce[pending.nonce] = pending
        self._index[EidPrefix.host(*key)] = pending
        queued, reason = self._enqueue(pending, packet)
        return MissOutcome(self._sent(pending, now), queued, reason)

    def awaiting(self, nonce: int) -> PendingRequest | None:
        """The outstanding request a Map-Reply with this nonce answers, or None if unknown.

        It stays outstanding until `complete`: a reply with nothing acceptable in it
        must not cancel the retransmissions.
        """
        return self._by_nonce.get(nonce)

    def complete(self, pending: PendingRequest) -> None:
        """`pending` is answered: forget it (its queued packets are the caller's now)."""
        del self._by_nonce[pending.nonce], self._by_key[pending.key]
        self._index.pop(EidPrefix.host(*pending.key))
        self._queued -= len(pending.queue)

    def take_covered(self, iid: int, network: IPAddress, length: int) -> list[PendingRequest]:
        """Complete the requests whose destination lies in the reply's prefix network/length."""
        prefix = EidPrefix(iid, ip_network((network, length)))
        inside = [pending for _, pending in self._index.more_specifics(prefix)]
        exact = self._index.get(prefix)
        if exact is not None:
            inside.append(exact)
        for pending in inside:
            self.complete(pending)
        return inside

    def on_timer(self, now: float) -> tuple[list[RequestToSend], list[PendingRequest]]:
        """Retransmissions due now, and the requests given up (every Map-Resolver silent)."""
        resend: list[RequestToSend] = []
        given_up: list[PendingRequest] = []
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            pending = self._due(*heapq.heappop(deadlines))
            if pending is None:
                continue
            if pending.sends >= len(RETRANSMIT_WAITS):
                pending.resolver_index += 1
                pending.sends = 0
                if pending.resolver_index >= len(self.resolvers):
                    given_up.append(pending)
                    self.complete(pending)
                    continue
            resend.append(self._sent(pending, now))
        self._forget_old_requests(now)
        return resend, given_up

    # ------------------------------------------------------------ helpers

    def _sent(self, pending: PendingRequest, now: float) -> RequestToSend:
        pending.next_send = now + RETRANSMIT_WAITS[pending.sends]
        pending.sends += 1
        self._last_request[pending.key] = now
        self._last_request.move_to_end(pending.key)
        heapq.heappush(self._deadlines, (pending.next_send, pending.nonce))
        if len(self._deadlines) > 2 * len(self._by_nonce) + 64:
            self._deadlines = [(p.next_send, p.nonce) for p in self._by_nonce.values()]
            heapq.heapify(self._deadlines)
        return RequestToSend(pending, self.resolvers[pending.resolver_index])

    def _due(self, when: float, nonce: int) -> PendingRequest | None:
        """The request a (deadline, nonce) pair stands for, or None if the pair is stale."""
        pending = self._by_nonce.get(nonce)
        return pending if pending is not None and pending.next_send == when else None

    def _forget_old_requests(self, now: float) -> None:
        """Drop send times past the rate limit. Done on every new request too: a scan whose
        requests are all answered at once may never fire a timer (a full map-cache
        evicts before anything expires), and one entry per destination ever asked
        for grew an ITR by hundreds of MB."""
        while self._last_request:
            key, when = next(iter(self._last_request.items()))
            if now - when < MIN_REQUEST_INTERVAL:
                break
            del self._last_request[key]

    def _enqueue(self, pending: PendingRequest, packet: bytes | None) -> tuple[bool, str | None]:
        if packet is None:
            return False, None
        if len(pending.queue) >= self.queue_per_destination:
            return False, "map-request-queue-full"
        if self._queued >= self.queue_total:
            return False, "map-request-queue-full"
        pending.queue.append(packet)
        pending.refresh = False
        self._queued += 1
        return True, None

    def _new_nonce(self) -> int:
        while True:
            nonce = self._rng.getrandbits(64)
            if nonce and nonce not in self._by_nonce:
                return nonce
