"""What the Map-Server and Map-Resolver send: Map-Replies, negative replies, forwarded ECMs.

Shared helpers (stateless, plus bounded caches of encoded records) so that
map_server.py and map_resolver.py hold the decisions and this module holds
the bytes:

- `negative_record` / `NegativeReplyEncoder`: a negative Map-Reply,
  action Natively-Forward, A bit set. The encoder keeps the encoded record
  per (EID prefix, TTL) and only packs the header and the nonce per reply;
  tests/unit/test_map_resolver.py compares it with `MapReply.encode()`.
- `proxy_record` / `ProxyReplyEncoder`: the registered RLOCs of every live
  ETR of a prefix, merged, A bit clear, as a Map-Server answers on an ETR's
  behalf. The encoder keeps the encoded record per (prefix, TTL) while the
  registration store's generation stays the same, so the other EIDs of a
  registered prefix are answered without merging and encoding again.
- `pick_itr_rloc`, `pick_etr_rloc`: where a reply or a forwarded request goes.
- `encapsulate_request`: an ECM around a plain Map-Request, so that the ETR
  answers the ITR directly.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address

from lispstack.bounded_cache import BoundedCache
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.registrations import Registration
from lispstack.wire.address import Address, encode_address, with_instance_id
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.message_type import MessageType
from lispstack.wire.records import Locator, MappingRecord, MapReplyAction, record_head

NO_SITE_TTL = 15
"""Minutes: negative reply for an EID outside every configured site prefix."""
NOT_REGISTERED_TTL = 1
"""Minutes: negative reply for a configured site with nothing live registered."""
PROXY_REPLY_TTL = 1440
"""Minutes: proxy Map-Reply, unless the registered record asked for another TTL."""
REGISTRATION_TTL_MINUTES = 3
"""What ETRs put in a Map-Register record by convention: a registration TTL."""
UNUSABLE_PRIORITY = 255

_REPLY_HEAD = struct.Struct("!IQ")
_ONE_RECORD_REPLY = (MessageType.MAP_REPLY << 28) | 1
MAX_CACHED_NEGATIVE = 65_536
MAX_CACHED_PROXY = 16_384
"""Enough for the neighbouring EIDs of recently asked prefixes; memory goes to registrations."""


def prefix_eid(prefix: EidPrefix) -> Address:
    """The EID-prefix address field of a record for `prefix` (IID LCAF when iid != 0)."""
    return with_instance_id(prefix.iid, prefix.network.network_address)


def negative_record(prefix: EidPrefix, ttl: int) -> MappingRecord:
    """A negative mapping record: no locators, Natively-Forward, authoritative."""
    return MappingRecord(
        eid=prefix_eid(prefix),
        eid_mask_len=prefix.network.prefixlen,
        ttl=ttl,
        action=MapReplyAction.NATIVELY_FORWARD,
        authoritative=True,
    )


def encode_reply(nonce: int, records: tuple[MappingRecord, ...]) -> bytes:
    """The general path: a Map-Reply built and encoded by the wire codec."""
    return MapReply(nonce=nonce, records=records).encode()


class NegativeReplyEncoder:
    """Negative Map-Replies from cached record bytes; only the nonce changes per reply.

    The record bytes are a pure function of (prefix, TTL), so the cache is
    never stale; it is cleared when it holds `limit` entries (a flood of
    host prefixes must not grow it without bound).
    """

    __slots__ = ("_records",)

    def __init__(self, limit: int = MAX_CACHED_NEGATIVE) -> None:
        self._records: BoundedCache[tuple[EidPrefix, int], bytes] = BoundedCache(limit)

    def encode(self, nonce: int, prefix: EidPrefix, ttl: int) -> bytes:
        key = (prefix, ttl)
        record = self._records.entries.get(key)
        if record is None:
            record = self._records.put(key, negative_record(prefix, ttl).encode())
        return _REPLY_HEAD.pack(_ONE_RECORD_REPLY, nonce) + record

    def __len__(self) -> int:
        return len(self._records.entries)


class ProxyReplyEncoder:
    """Proxy Map-Replies from cached record bytes, valid for one store generation.

    Every change to the registrations an answer depends on bumps the
    generation; a registration that lapses is out of the answers once the
    expiry timer has removed it (the same holds for the resolver's answer cache).
    """

    __slots__ = ("_locator_sets", "_records")

    def __init__(self, limit: int = MAX_CACHED_PROXY) -> None:
        self._records: BoundedCache[tuple[EidPrefix, int], tuple[int, bytes]] = BoundedCache(limit)
        self._locator_sets: BoundedCache[int, tuple[tuple[Locator, ...], int, bytes]] = (
            BoundedCache(limit)
        )
        """By id() of a registered locator tuple (kept alive here, so the id stays its
        own): how many locators the proxy reply gives for it, and their bytes."""

    def encode(
        self,
        nonce: int,
        prefix: EidPrefix,
        registrations: tuple[Registration, ...],
        generation: int,
    ) -> bytes:
        ttl = proxy_ttl(registrations)
        key = (prefix, ttl)
        cached = self._records.entries.get(key)
        if cached is not None and cached[0] == generation:
            record = cached[1]
        else:
            record = self._record(prefix, registrations, ttl)
            self._records.put(key, (generation, record))
        return _REPLY_HEAD.pack(_ONE_RECORD_REPLY, nonce) + record

    def _record(
        self, prefix: EidPrefix, registrations: tuple[Registration, ...], ttl: int
    ) -> bytes:
        """`proxy_record(...).encode()`; for one registration, from its locators' bytes
        (registered records share locator tuples, so these are encoded once)."""
        if len(registrations) != 1:
            return proxy_record(prefix, registrations, ttl).encode()
        registered = registrations[0].record.locators
        known = self._locator_sets.entries.get(id(registered))
        if known is None or known[0] is not registered:
            merged = proxy_locators(registrations)
            encoded = b"".join(locator.encode() for locator in merged)
            known = self._locator_sets.put(id(registered), (registered, len(merged), encoded))
        _, count, encoded = known
        version = registrations[0].record.map_version
        head = record_head(ttl, count, prefix.network.prefixlen, 0, version)
        return head + encode_address(prefix_eid(prefix)) + encoded

    def __len__(self) -> int:
        return len(self._records.entries)


def proxy_ttl(registrations: Iterable[Registration]) -> int:
    """The TTL of a proxy reply: 1440 minutes unless a registered record said otherwise.

    A Map-Register record TTL is, by convention, a registration TTL (3
    minutes), and with the T bit it is the registration timeout: neither is
    a mapping TTL, so the reply says 1440. A record TTL above 3 minutes
    registered without the T bit is the mapping TTL its ETR wants; with
    several ETRs, the smallest such TTL wins.
    """
    asked = [r.record.ttl for r in registrations if _asks_mapping_ttl(r)]
    return min(asked, default=PROXY_REPLY_TTL)


def _asks_mapping_ttl(registration: Registration) -> bool:
    ttl = registration.record.ttl
    if ttl <= REGISTRATION_TTL_MINUTES:
        return False
    # With the T bit the registration lives exactly the record TTL; without it,
    # 3 minutes, which equals the record TTL only for TTL 3 (excluded above).
    lifetime = registration.expires_at - registration.last_registered
    return not math.isclose(lifetime, ttl * 60.0, abs_tol=1e-3)


def proxy_record(
    prefix: EidPrefix, registrations: Iterable[Registration], ttl: int
) -> MappingRecord:
    """The merged RLOC set of every registering ETR (first occurrence of an address wins).

    Not authoritative, and no locator is "local": the Map-Server speaks for
    the ETRs. The map-version (RFC 9302) is the registered one when every ETR
    registered the same, else none.
    """
    registrations = tuple(registrations)
    versions = {r.record.map_version for r in registrations}
    return MappingRecord(
        eid=prefix_eid(prefix),
        eid_mask_len=prefix.network.prefixlen,
        ttl=ttl,
        authoritative=False,
        map_version=versions.pop() if len(versions) == 1 else 0,
        locators=proxy_locators(registrations),
    )


def proxy_locators(registrations: Iterable[Registration]) -> tuple[Locator, ...]:
    """The locators of a proxy reply: each address once, without the local and probed bits."""
    locators: dict[Address, Locator] = {}
    for registration in registrations:
        for locator in registration.record.locators:
            if locator.address not in locators:
                locators[locator.address] = Locator(
                    address=locator.address,
                    priority=locator.priority,
                    weight=locator.weight,
                    m_priority=locator.m_priority,
                    m_weight=locator.m_weight,
                    reachable=locator.reachable,
                )
    return tuple(locators.values())


def pick_itr_rloc(request: MapRequest, local: IPAddress) -> IPAddress | None:
    """An ITR-RLOC of the family the request arrived on, else any IPv4/IPv6 ITR-RLOC."""
    fallback: IPAddress | None = None
    for address in request.itr_rlocs:
        if isinstance(address, IPv4Address | IPv6Address):
            if address.version == local.version:
                return address
            if fallback is None:
                fallback = address
    return fallback


def pick_etr_rloc(registrations: Iterable[Registration], local: IPAddress) -> IPAddress | None:
    """One registered RLOC to forward a Map-Request to.

    Usable (priority < 255) and reachable IPv4/IPv6 locators only; lowest
    priority first, then the family we were reached on, then registration
    order. Deterministic, so that a request and its retransmission meet the
    same ETR.
    """
    best: tuple[int, int, int] | None = None
    chosen: IPAddress | None = None
    order = 0
    for registration in registrations:
        for locator in registration.record.locators:
            address = locator.address
            if not isinstance(address, IPv4Address | IPv6Address):
                continue
            if locator.priority >= UNUSABLE_PRIORITY or not locator.reachable:
                continue
            rank = (locator.priority, 0 if address.version == local.version else 1, order)
            order += 1
            if best is None or rank < best:
                best, chosen = rank, address
    return chosen


def encapsulate_request(
    request: MapRequest, request_bytes: bytes, itr_rloc: IPAddress, eid: IPAddress, port: int
) -> bytes | None:
    """An ECM around a plain Map-Request, for the ETR to answer the ITR directly.

    Inner source the ITR-RLOC, inner destination the EID, inner source port
    the port the request came from (the ETR replies there); the Map-Request
    bytes are the ones received. None when the ITR-RLOC and the EID are of
    different families (no inner header fits both).
    """
    if itr_rloc.version != eid.version:
        return None
    ecm = Ecm(source=itr_rloc, destination=eid, source_port=port, message=request)
    return ecm.encode_around(request_bytes)
