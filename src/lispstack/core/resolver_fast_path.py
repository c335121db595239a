"""The Map-Resolver's hot path: cached answers for the common ECM Map-Request.

The common request is an ECM with an inner IPv4/UDP header (no options) and
a Map-Request with no flags, one IPv4 ITR-RLOC and one IPv4 /32 EID record.
For those, a fixed-layout parse takes the place of the general decode (which
builds every header and address as an object, several times the cost of the
answer itself), and the Map-Resolver answers from the parsed fields. The
first answer for an EID is kept as bytes, with the counters it incremented;
later requests for the same EID patch in their nonce and count the same way,
until the registrations change or the earliest of those the answer used
expires (whether or not a timer tick has removed it yet). Everything else
takes the general path.
Tests compare both paths on the same inputs, and check that every request
the parse takes is one the general decoder takes with the same fields.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import TypeAlias

from lispstack.bounded_cache import BoundedCache
from lispstack.core.counters import Counters
from lispstack.core.events import Action, DatagramReceived, Endpoint, SendDatagram
from lispstack.core.map_resolver import MapResolver
from lispstack.wire.message_type import MessageType

# ECM word | inner IPv4: version/IHL, total length, protocol | inner UDP: source port, length |
# Map-Request: type and flags (2 bytes), L/D/IRC, record count, nonce.
_ECM_MAP_REQUEST = struct.Struct("!4xBxH4xxB2x4x4xH2xH2xBBBB8s")
_ITR_RLOC_AND_RECORD = struct.Struct("!H4sBBH4s")
MAX_CACHED = 100_000
MAX_JOURNALS = 64
_IN_ECM = f"in.{MessageType.ECM.label}"
_Journal: TypeAlias = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class _CachedReply:
    generation: int
    expires: float  # the earliest expiry of the registrations the answer used
    head: bytes  # the Map-Reply's first word
    tail: bytes  # everything after the nonce
    counted: _Journal


class ResolverFastPath:
    def __init__(
        self,
        general: Callable[[DatagramReceived, float], list[Action]],
        resolver: MapResolver,
        counters: Counters,
    ) -> None:
        self._general = general
        self._resolver = resolver
        self._registrations = resolver.map_server.registrations
        self._counters = counters
        self._cache: BoundedCache[int, _CachedReply] = BoundedCache(MAX_CACHED)
        self._ddt_cache: BoundedCache[int, tuple[_CachedReply, _CachedReply]] = BoundedCache(
            MAX_CACHED
        )
        """(MS-ACK, proxy Map-Reply) by EID, for DDT Map-Resolvers' requests."""
        self._reply_to: BoundedCache[tuple[bytes, int], Endpoint] = BoundedCache(MAX_CACHED)
        """Where replies go, by ITR-RLOC and port: ITRs ask many times."""
        self._journals: BoundedCache[_Journal, _Journal] = BoundedCache(MAX_JOURNALS)
        """The distinct counter journals of cached answers, shared between them."""
        self.hits = 0

    def handle(self, datagram: DatagramReceived, now: float) -> list[Action]:
        payload = datagram.payload
        parsed = parse_common_request(payload)
        if parsed is None:
            ddt = parse_ddt_request(payload)
            if ddt is None:
                return self._general(datagram, now)
            eid, itr_rloc, port, nonce = ddt
            return self._ddt(datagram, eid, self._endpoint(itr_rloc, port), nonce, now)
        eid, itr_rloc, port, nonce = parsed
        reply_to = self._endpoint(itr_rloc, port)
        reply = self._cached_reply(eid, nonce, now)
        if reply is not None:
            return [SendDatagram(reply, reply_to)]
        return self._learn(datagram, eid, reply_to, int.from_bytes(nonce, "big"), now)

    def _endpoint(self, itr_rloc: bytes, port: int) -> Endpoint:
        reply_to = self._reply_to.entries.get((itr_rloc, port))
        if reply_to is None:
            reply_to = self._reply_to.put((itr_rloc, port), Endpoint(IPv4Address(itr_rloc), port))
        return reply_to

    def answer_ddt_cached(
        self, payload: bytes, now: float
    ) -> tuple[bytes, bytes, bytes, int] | None:
        """(MS-ACK, Map-Reply, ITR-RLOC, port) when `payload` is a DDT request answered
        before, else None: `answer_cached` for a DDT Map-Resolver's request, whose MS-ACK
        goes back to the sender."""
        parsed = parse_ddt_request(payload)
        if parsed is None:
            return None
        eid, itr_rloc, port, nonce = parsed
        answers = self._ddt_answers(eid, nonce, now)
        return None if answers is None else (*answers, itr_rloc, port)

    def _ddt_answers(self, eid: int, nonce: bytes, now: float) -> tuple[bytes, bytes] | None:
        cached = self._ddt_cache.entries.get(eid)
        if cached is None or not self._valid(cached[1], now):
            return None
        referral, reply = cached
        self.hits += 1
        self._counters.replay(reply.counted)
        return referral.head + nonce + referral.tail, reply.head + nonce + reply.tail

    def _ddt(
        self, datagram: DatagramReceived, eid: int, reply_to: Endpoint, nonce: bytes, now: float
    ) -> list[Action]:
        """A DDT Map-Resolver's request: the MS-ACK to it and the proxy reply to the ITR,
        from bytes kept after the general path first answered them (and counted as it did)."""
        answers = self._ddt_answers(eid, nonce, now)
        if answers is not None:
            return [SendDatagram(answers[0], datagram.source), SendDatagram(answers[1], reply_to)]
        generation = self._registrations.generation
        self._counters.start_journal()
        try:
            actions = self._general(datagram, now)
        finally:
            counted = self._journals.shared(*(self._counters.stop_journal(),) * 2)
        sends = [a for a in actions if isinstance(a, SendDatagram)]
        if (
            len(actions) == len(sends) == 2
            and sends[0].destination == datagram.source
            and sends[0].payload[0] >> 4 == MessageType.MAP_REFERRAL
            and sends[1].destination == reply_to
            and sends[1].payload[0] >> 4 == MessageType.MAP_REPLY
        ):
            expires = self._expiry_of_answer(eid, now)
            learnt = [
                _CachedReply(generation, expires, s.payload[:4], s.payload[12:], counted)
                for s in sends
            ]
            self._ddt_cache.put(eid, (learnt[0], learnt[1]))
        return actions

    def answer_cached(self, payload: bytes, now: float) -> tuple[bytes, bytes, int] | None:
        """(Map-Reply, ITR-RLOC, port) when `payload` is a request answered before, else None.

        The reply is counted as `handle` would count it, and goes from the
        control port to the IPv4 ITR-RLOC at the port. On None, `handle`
        answers the same datagram. This lets the daemon answer the common
        case straight from the socket's bytes, without event objects.
        """
        parsed = parse_common_request(payload)
        if parsed is None:
            return None
        eid, itr_rloc, port, nonce = parsed
        reply = self._cached_reply(eid, nonce, now)
        return None if reply is None else (reply, itr_rloc, port)

    def _valid(self, cached: _CachedReply, now: float) -> bool:
        return cached.generation == self._registrations.generation and now < cached.expires

    def _cached_reply(self, eid: int, nonce: bytes, now: float) -> bytes | None:
        cached = self._cache.entries.get(eid)
        if cached is None or not self._valid(cached, now):
            return None
        self.hits += 1
        self._counters.replay(cached.counted)
        return cached.head + nonce + cached.tail

    def _learn(
        self, datagram: DatagramReceived, eid: int, reply_to: Endpoint, nonce: int, now: float
    ) -> list[Action]:
        generation = self._registrations.generation
        self._counters.start_journal()
        try:
            self._counters.add(_IN_ECM)  # as Node.handle_control counts a decoded ECM
            actions = self._resolver.answer(nonce, 0, IPv4Address(eid), reply_to, datagram, now)
        finally:
            counted = self._counters.stop_journal()
        if len(actions) != 1 or not isinstance(actions[0], SendDatagram):
            return actions
        reply = actions[0].payload
        if reply[0] >> 4 != 2:  # a forwarded ECM, not a Map-Reply: never cached
            return actions
        # Answers of one kind count the same names: one tuple for all of them.
        counted = self._journals.shared(counted, counted)
        expires = self._expiry_of_answer(eid, now)
        self._cache.put(eid, _CachedReply(generation, expires, reply[:4], reply[12:], counted))
        return actions

    def _expiry_of_answer(self, eid: int, now: float) -> float:
        """When the answer for `eid` stops holding without a change of registrations: the
        earliest expiry of the live registrations it used (never, for a negative one)."""
        used = self._resolver.map_server.resolve(0, IPv4Address(eid), now).registrations
        return min((r.expires_at for r in used), default=math.inf)


def parse_common_request(payload: bytes) -> tuple[int, bytes, int, bytes] | None:
    """(EID, ITR-RLOC, inner source port, nonce) of the common request, else None."""
    return _parse(payload, 0x80)


def parse_ddt_request(payload: bytes) -> tuple[int, bytes, int, bytes] | None:
    """`parse_common_request` for the same request with the ECM's D bit set (RFC 8111
    section 5: a DDT Map-Resolver asking)."""
    return _parse(payload, 0x84)


def _parse(payload: bytes, first: int) -> tuple[int, bytes, int, bytes] | None:
    if len(payload) < 60 or payload[0] != first or payload[1:4] != b"\0\0\0":
        return None
    (vihl, total, protocol, sport, udp_length, mr0, mr1, irc, count, nonce) = (
        _ECM_MAP_REQUEST.unpack_from(payload)
    )
    if (
        vihl != 0x45
        or protocol != 17
        or total != len(payload) - 4
        or udp_length != total - 20
        or mr0 != 0x10
        or mr1 != 0
        or irc != 0
        or count != 1
    ):
        return None
    source_afi = int.from_bytes(payload[44:46], "big")
    offset = 46 if source_afi == 0 else 50 if source_afi == 1 else -1
    if offset < 0 or len(payload) != offset + _ITR_RLOC_AND_RECORD.size:
        return None
    rloc_afi, itr_rloc, _reserved, mask, eid_afi, eid = _ITR_RLOC_AND_RECORD.unpack_from(
        payload, offset
    )
    if rloc_afi != 1 or mask != 32 or eid_afi != 1:
        return None
    return int.from_bytes(eid, "big"), itr_rloc, sport, nonce
