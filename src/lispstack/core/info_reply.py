"""The Map-Server's answer to an Info-Request (LISP NAT traversal, draft-ietf-lisp-nat-traversal).

An xTR sends an Info-Request to its Map-Server to learn how it is seen from
the outside. The Info-Reply carries, in its NAT-Traversal LCAF:

    MS UDP port         the port the Info-Request arrived on (4342)
    ETR UDP port        the source port the Map-Server saw (the NAT's, if any)
    global ETR RLOC     the source address the Map-Server saw
    MS RLOC             the address the Info-Request was sent to (AFI 0 when
                        the Map-Server listens on the wildcard address)
    private ETR RLOC    AFI 0 (the Map-Server cannot know it)
    RTR RLOCs           the site's `rtrs`

It has the request's nonce, EID prefix, key id and algorithm, a TTL of
RTR_TTL_MINUTES, and is signed with the key that verified the request.

An authenticated Info-Request names its site by its EID prefix; failed
checks are counted drops: "info-no-site" (no site holds the EID prefix),
"info-unknown-key-id", "info-wrong-algorithm", "info-auth-failure".
An unauthenticated one (lispers.net's `lig` sends them, with a hostname for
an EID) learns only its translated address and port: the reply carries no
RTRs and no authentication ("info-request.unauthenticated" counts them).
"""

from __future__ import annotations

from dataclasses import dataclass

from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.eid_prefix import record_prefix
from lispstack.core.events import Action, DatagramReceived, SendDatagram
from lispstack.core.sites import SiteTable, key_accepts
from lispstack.wire.address import NO_ADDRESS, Address, NatTraversal
from lispstack.wire.auth import AlgorithmId, HmacKey, sign_encoded, verify_raw
from lispstack.wire.info import InfoReply, InfoRequest

RTR_TTL_MINUTES = 1440
"""How long the xTR may keep the RTR list of an Info-Reply (the xTR asks again sooner)."""


@dataclass(frozen=True, slots=True)
class _Verified:
    rtrs: tuple[Address, ...]
    key: HmacKey | None


def answer_info(
    message: InfoRequest | InfoReply,
    datagram: DatagramReceived,
    sites: SiteTable,
    counters: Counters,
    drops: DropRecorder,
    now: float,
) -> list[Action]:
    """What a Map-Server does with an Info message: answer a request, drop a reply."""
    if isinstance(message, InfoReply):
        return list(drops.drop("unexpected-info-reply", str(datagram.source.address), now))
    return answer_info_request(message, datagram, sites, counters, drops, now)


def answer_info_request(
    request: InfoRequest,
    datagram: DatagramReceived,
    sites: SiteTable,
    counters: Counters,
    drops: DropRecorder,
    now: float,
) -> list[Action]:
    """The signed Info-Reply to `request`, or the counted drop."""
    verified = _verify(request, datagram, sites, drops, now)
    if not isinstance(verified, _Verified):
        return verified
    if verified.key is None:
        counters.add("info-request.unauthenticated")
    local = datagram.local
    ms_rloc: Address = NO_ADDRESS if local.address.is_unspecified else local.address
    reply = InfoReply(
        nonce=request.nonce,
        key_id=request.key_id if verified.key is not None else 0,
        algorithm=request.algorithm if verified.key is not None else AlgorithmId.NONE,
        ttl=RTR_TTL_MINUTES,
        eid=request.eid,
        eid_mask_len=request.eid_mask_len,
        nat=NatTraversal(
            ms_udp_port=local.port,
            etr_udp_port=datagram.source.port,
            global_etr_rloc=datagram.source.address,
            ms_rloc=ms_rloc,
            private_etr_rloc=NO_ADDRESS,
            rtr_rlocs=verified.rtrs,
        ),
    )
    encoded = reply.encode()
    if verified.key is not None:
        encoded = sign_encoded(encoded, reply.algorithm, verified.key)
    counters.add("out.info-reply")
    return [SendDatagram(encoded, datagram.source, source_port=local.port)]


def _verify(
    request: InfoRequest,
    datagram: DatagramReceived,
    sites: SiteTable,
    drops: DropRecorder,
    now: float,
) -> _Verified | list[Action]:
    source = str(datagram.source.address)

    def drop(reason: str, detail: str) -> list[Action]:
        return list(drops.drop(reason, source, now, detail))

    if request.algorithm is AlgorithmId.NONE:
        return _Verified((), None)
    prefix = record_prefix(request)
    site_prefix = None if prefix is None else sites.site_for(prefix)
    if site_prefix is None:
        return drop("info-no-site", f"{request.eid}/{request.eid_mask_len}")
    site = site_prefix.site
    key = sites.key(site, request.key_id)
    if key is None:
        return drop("info-unknown-key-id", f"site {site.name}, key id {request.key_id}")
    if not key_accepts(key.config, request.algorithm):
        return drop("info-wrong-algorithm", f"site {site.name}, {request.algorithm.label}")
    if not verify_raw(datagram.payload, key.hmac):
        previous = sites.previous_key(site, request.key_id, now)
        if previous is None or not verify_raw(datagram.payload, previous.hmac):
            return drop("info-auth-failure", f"site {site.name}, key id {request.key_id}")
        key = previous
    return _Verified(site.rtrs, key.hmac)
