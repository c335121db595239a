"""The DDT Map-Resolver's hot path: the common request sent on from the referral cache,
and the MS-ACK that ends it, without the general decode.

The common request is the one the Map-Resolver's fast path takes
(core/resolver_fast_path.parse_common_request: an ECM, inner IPv4/UDP, one
IPv4 ITR-RLOC, one IPv4 /32 EID record, instance-id 0). When a live referral
holds its EID, DdtResolver.forward_cached sends it on to the referral set.
The common Map-Referral is an MS-ACK with one record, for an IPv4 prefix, no
referral set and no signature: DdtResolver.take_ms_ack ends its walk.
Everything else, and whatever those two decline, takes the general path.
Tests compare both paths on the same inputs.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from ipaddress import IPv4Address

from lispstack.bounded_cache import BoundedCache
from lispstack.core.ddt_resolver import DdtResolver
from lispstack.core.events import Action, DatagramReceived, Endpoint
from lispstack.core.resolver_fast_path import parse_common_request
from lispstack.wire.map_referral import ReferralAction

# Type, record count, nonce | record: TTL, referral count, mask, ACT/A/I/reserved,
# SigCnt/map-version, EID-AFI, IPv4 EID.
_MS_ACK = struct.Struct("!B2xBQIBBHHH4s")
MAX_ENDPOINTS = 100_000


class DdtFastPath:
    def __init__(
        self, general: Callable[[DatagramReceived, float], list[Action]], resolver: DdtResolver
    ) -> None:
        self._general = general
        self._resolver = resolver
        self._reply_to: BoundedCache[tuple[bytes, int], Endpoint] = BoundedCache(MAX_ENDPOINTS)
        """Where negative replies would go, by ITR-RLOC and port: ITRs ask many times."""

    def handle(self, datagram: DatagramReceived, now: float) -> list[Action]:
        payload = datagram.payload
        if payload[:1] == b"\x60":
            if self._ms_ack(payload, datagram.source.address):
                return []
            return self._general(datagram, now)
        parsed = parse_common_request(payload)
        if parsed is None:
            return self._general(datagram, now)
        eid, itr_rloc, port, nonce = parsed
        reply_to = self._reply_to.entries.get((itr_rloc, port))
        if reply_to is None:
            reply_to = self._reply_to.put((itr_rloc, port), Endpoint(IPv4Address(itr_rloc), port))
        sent = self._resolver.forward_cached(
            payload, eid, reply_to, int.from_bytes(nonce, "big"), now
        )
        return self._general(datagram, now) if sent is None else sent

    def _ms_ack(self, payload: bytes, source: object) -> bool:
        if len(payload) != _MS_ACK.size:
            return False
        (_, count, nonce, _ttl, referrals, length, flags, version, afi, eid) = _MS_ACK.unpack(
            payload
        )
        if (
            count != 1
            or referrals != 0
            or flags >> 13 != ReferralAction.MS_ACK
            or version >> 12
            or afi != 1
            or length > 32
        ):
            return False
        prefix = int.from_bytes(eid, "big")
        if length < 32 and prefix & ((1 << (32 - length)) - 1):
            return False  # host bits set: the general decoder refuses it
        return self._resolver.take_ms_ack(nonce, source, prefix, length)  # type: ignore[arg-type]
