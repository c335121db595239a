"""Which record of a Map-Reply an ITR may cache: the one acceptance check of the reply path.

A Map-Reply is matched to its Map-Request by nonce alone, and the Map-Server
forwards the Map-Request, nonce included, to a registered ETR. Any site's ETR
could therefore answer with records for other sites' prefixes (or 10.0.0.0/8,
0.0.0.0/1) pointing at itself, with a day-long TTL, and take their traffic.
So the ITR caches one record per reply: the most specific one that covers the
EID it asked for, in the instance-id it asked in; the others are dropped with
a reason. A covering record less specific than a cached entry for another EID
is fine: longest-prefix match keeps using the more specific one.

This bounds what a replier can claim to the EID it was asked about; proving it
may claim even that is LISP-SEC's job (RFC 9303). A LISP-SEC verifier is
another `ReplyCheck`: it verifies the reply against the one-time key of the
request, then applies `covering_record` to what it verified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from lispstack.core.resolver_client import PendingRequest
from lispstack.wire.address import split_instance_id
from lispstack.wire.map_reply import MapReply
from lispstack.wire.records import MappingRecord


@dataclass(frozen=True, slots=True)
class Accepted:
    """The record to cache (None: none may be), and each other record with why it was not."""

    record: MappingRecord | None
    rejected: tuple[tuple[MappingRecord, str], ...] = ()


ReplyCheck = Callable[[PendingRequest, MapReply], Accepted]


def covering_record(request: PendingRequest, reply: MapReply) -> Accepted:
    best: MappingRecord | None = None
    rejected: list[tuple[MappingRecord, str]] = []
    for record in reply.records:
        reason = _not_covering(record, request)
        if reason is not None:
            rejected.append((record, reason))
        elif best is None or record.eid_mask_len > best.eid_mask_len:
            if best is not None:
                rejected.append((best, "map-reply-record-less-specific"))
            best = record
        else:
            rejected.append((record, "map-reply-record-less-specific"))
    return Accepted(best, tuple(rejected))


def _not_covering(record: MappingRecord, request: PendingRequest) -> str | None:
    """Why `record` does not answer `request` (its drop reason), or None when it does."""
    iid, address = split_instance_id(record.eid)
    if not isinstance(address, IPv4Address | IPv6Address):
        return "map-reply-record-not-ip"
    if iid != request.iid:
        return "map-reply-record-other-instance"
    eid = request.eid
    shift = address.max_prefixlen - record.eid_mask_len
    if address.version != eid.version or int(address) >> shift != int(eid) >> shift:
        return "map-reply-record-not-covering"
    return None
