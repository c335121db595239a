"""The Map-Resolver's hot path: cached answers for the common ECM Map-Request.

The common request is an ECM with an inner IPv4/UDP header (no options) and
a Map-Request with no flags, one IPv4 ITR-RLOC and one IPv4 /32 EID record.
For those, the first answer for an EID is computed by the general path and
kept as bytes, with the counters that path incremented; later requests for
the same EID patch in their nonce and count the same way, until the
registrations change. Everything else (and every forwarded request) takes
the general path. A test compares both paths on the same inputs.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address

from lispstack.core.counters import Counters
from lispstack.core.events import Action, DatagramReceived, Endpoint, SendDatagram
from lispstack.mapping.registrations import RegistrationStore

# ECM word | inner IPv4: version/IHL, total length, protocol | inner UDP: source port, length |
# Map-Request: type and flags (2 bytes), L/D/IRC, record count, nonce.
_ECM_MAP_REQUEST = struct.Struct("!4xBxH4xxB2x4x4xH2xH2xBBBB8s")
_ITR_RLOC_AND_RECORD = struct.Struct("!H4sBBH4s")
MAX_CACHED = 100_000


@dataclass(frozen=True, slots=True)
class _CachedReply:
    generation: int
    head: bytes  # the Map-Reply's first word
    tail: bytes  # everything after the nonce
    counted: tuple[str, ...]


class ResolverFastPath:
    def __init__(
        self,
        general: Callable[[DatagramReceived, float], list[Action]],
        registrations: RegistrationStore,
        counters: Counters,
    ) -> None:
        self._general = general
        self._registrations = registrations
        self._counters = counters
        self._cache: dict[int, _CachedReply] = {}
        self.hits = 0

    def handle(self, datagram: DatagramReceived, now: float) -> list[Action]:
        payload = datagram.payload
        parsed = _parse(payload)
        if parsed is None:
            return self._general(datagram, now)
        eid, itr_rloc, port, nonce = parsed
        cached = self._cache.get(eid)
        if cached is not None and cached.generation == self._registrations.generation:
            self.hits += 1
            for name in cached.counted:
                self._counters.add(name)
            reply = cached.head + nonce + cached.tail
            return [SendDatagram(reply, Endpoint(IPv4Address(itr_rloc), port))]
        return self._learn(datagram, eid, now)

    def _learn(self, datagram: DatagramReceived, eid: int, now: float) -> list[Action]:
        generation = self._registrations.generation
        before = self._counters.snapshot()
        actions = self._general(datagram, now)
        if len(actions) != 1 or not isinstance(actions[0], SendDatagram):
            return actions
        reply = actions[0].payload
        if reply[0] >> 4 != 2:  # a forwarded ECM, not a Map-Reply: never cached
            return actions
        after = self._counters.snapshot()
        counted = tuple(
            name for name, value in after.items() for _ in range(value - before.get(name, 0))
        )
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[eid] = _CachedReply(generation, reply[:4], reply[12:], counted)
        return actions


def _parse(payload: bytes) -> tuple[int, bytes, int, bytes] | None:
    """(EID, ITR-RLOC, inner source port, nonce) of the common request, else None."""
    if len(payload) < 60 or payload[0] != 0x80 or payload[1:4] != b"\0\0\0":
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
