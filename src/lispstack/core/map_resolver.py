"""The Map-Resolver role (RFC 9301 section 8.3), answering from the co-located Map-Server.

For each Map-Request (inside an ECM, or plain), about its first EID record:

    EID in no configured site prefix    negative Map-Reply, Natively-Forward,
                                        A bit, TTL 15 min, for the least-specific
                                        prefix holding the EID that overlaps no
                                        site prefix            reply.negative-no-site
    site configured, nothing live       negative, TTL 1 min, for the site
                                        prefix (the host prefix when the site
                                        accepts more-specifics)
                                                        reply.negative-not-registered
    registered, proxy-reply asked       Map-Reply with the merged RLOCs of the
                                        live ETRs, A bit clear, TTL 1440
                                        (see replies.proxy_ttl)       reply.proxy
    registered otherwise                the ECM, byte for byte, to one ETR RLOC
                                        on 4342 (a plain request is first put
                                        in an ECM)                    forward.to-etr

A Map-Request that subscribes (RFC 9437: N bit, xTR-ID) is answered the same
way, and the Map-Server keeps the subscription (core/subscriptions.py).

A DDT Map-Request (an ECM with the D bit, RFC 8111 section 7.1) from a DDT
Map-Resolver is first answered with a Map-Referral to the ECM's source
(core/referrals.py has the TTLs and flags):

    EID in no configured site prefix    DELEGATION-HOLE  referral.delegation-hole
    site configured, nothing live       MS-NOT-REGISTERED
                                                  referral.ms-not-registered
    registered                          MS-ACK, then the proxy reply or the
                                        forward above          referral.ms-ack

Replies go to an ITR-RLOC of the family the request arrived on (else any),
at the request's (inner) UDP source port, from 4342. Messages out are
counted as "out.map-reply" and "out.ecm".
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import NamedTuple

from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.events import CONTROL_PORT, Action, DatagramReceived, Endpoint, SendDatagram
from lispstack.core.map_server import MapServer, Resolution
from lispstack.core.referrals import (
    DELEGATION_HOLE_TTL,
    MS_ACK_TTL,
    MS_NOT_REGISTERED_TTL,
    encode_referral,
    referral_record,
)
from lispstack.core.replies import (
    NO_SITE_TTL,
    NOT_REGISTERED_TTL,
    NegativeReplyEncoder,
    ProxyReplyEncoder,
    encapsulate_request,
    pick_etr_rloc,
    pick_itr_rloc,
)
from lispstack.core.role import Role
from lispstack.core.subscriptions import is_subscription, is_unsubscription
from lispstack.mapping.prefix import IPAddress
from lispstack.wire.address import split_instance_id
from lispstack.wire.control import ControlMessage
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_referral import ReferralAction
from lispstack.wire.map_request import MapRequest
from lispstack.wire.message_type import MessageType


class IncomingRequest(NamedTuple):
    """A Map-Request an ITR sent a Map-Resolver, read: what it asks and where to answer."""

    request: MapRequest
    iid: int
    eid: IPAddress
    reply_to: Endpoint
    """The ITR-RLOC we answer and the port the request came from (inside the ECM)."""


def read_request(
    message: ControlMessage, datagram: DatagramReceived, drops: DropRecorder, now: float
) -> IncomingRequest | list[Action]:
    """The Map-Request of an ECM (or a plain one), or the counted drop of one we cannot
    answer: not a Map-Request, a non-IP EID, no usable ITR-RLOC."""
    source = str(datagram.source.address)
    if isinstance(message, Ecm):
        request, reply_port = message.message, message.source_port
    else:
        request, reply_port = message, datagram.source.port
    if not isinstance(request, MapRequest):
        return list(drops.drop("ecm-not-map-request", source, now))
    iid, eid = split_instance_id(request.records[0].eid)
    if not isinstance(eid, IPv4Address | IPv6Address):
        return list(drops.drop("unsupported-eid", source, now, str(eid)))
    itr_rloc = pick_itr_rloc(request, datagram.local.address)
    if itr_rloc is None:
        return list(drops.drop("no-itr-rloc", source, now))
    return IncomingRequest(request, iid, eid, Endpoint(itr_rloc, reply_port))


class MapResolver(Role):
    name = "map-resolver"
    control_types = frozenset({MessageType.ECM, MessageType.MAP_REQUEST})

    def __init__(self, map_server: MapServer, counters: Counters, drops: DropRecorder) -> None:
        self.map_server = map_server
        self.counters = counters
        self.drops = drops
        self.negative_replies = NegativeReplyEncoder()
        self.proxy_replies = ProxyReplyEncoder()

    def handle_control(
        self, message: ControlMessage, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        inner = message.message if isinstance(message, Ecm) else message
        if isinstance(inner, MapRequest) and is_unsubscription(inner):
            subscriptions = self.map_server.subscriptions
            return subscriptions.unsubscribe(inner, datagram.source.address, now)
        asked = read_request(message, datagram, self.drops, now)
        if not isinstance(asked, IncomingRequest):
            return asked
        request, iid, eid, reply_to = asked
        if isinstance(message, Ecm) and message.ddt:
            return self._answer_ddt(request.nonce, iid, eid, reply_to, datagram, now)
        plain = None if isinstance(message, Ecm) else request
        actions = self.answer(request.nonce, iid, eid, reply_to, datagram, now, plain)
        if is_subscription(request):
            actions.extend(self._subscribe(asked, datagram, now))
        return actions

    def _subscribe(
        self, asked: IncomingRequest, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        """RFC 9437: the Map-Server keeps the subscription to the prefix that answers
        the EID (registered, else what a negative reply names) and publishes it."""
        resolution = self.map_server.resolve(asked.iid, asked.eid, now)
        prefix = resolution.prefix
        if prefix is None and resolution.site is not None:
            prefix = resolution.site.not_registered_prefix(asked.iid, asked.eid)
        source = str(datagram.source.address)
        subscriptions = self.map_server.subscriptions
        return subscriptions.subscribe(asked.request, asked.reply_to.address, prefix, source, now)

    def _answer_ddt(
        self,
        nonce: int,
        iid: int,
        eid: IPAddress,
        reply_to: Endpoint,
        datagram: DatagramReceived,
        now: float,
    ) -> list[Action]:
        """The Map-Referral of a DDT leaf, then (MS-ACK) the usual answer to the ITR."""
        resolution = self.map_server.resolve(iid, eid, now)
        site = resolution.site
        if site is None:
            hole = self.map_server.sites.negative_prefix(iid, eid)
            record = referral_record(ReferralAction.DELEGATION_HOLE, hole, DELEGATION_HOLE_TTL)
        elif not resolution.registrations:
            record = referral_record(
                ReferralAction.MS_NOT_REGISTERED,
                site.not_registered_prefix(iid, eid),
                MS_NOT_REGISTERED_TTL,
                incomplete=True,
            )
        else:
            assert resolution.prefix is not None
            record = referral_record(
                ReferralAction.MS_ACK, resolution.prefix, MS_ACK_TTL, incomplete=True
            )
        self.counters.add(f"referral.{record.action.label}")
        self.counters.add("out.map-referral")
        referral = SendDatagram(encode_referral(nonce, record), datagram.source)
        if record.action is not ReferralAction.MS_ACK:
            return [referral]
        return [referral, *self.answer(nonce, iid, eid, reply_to, datagram, now)]

    def answer(
        self,
        nonce: int,
        iid: int,
        eid: IPAddress,
        reply_to: Endpoint,
        datagram: DatagramReceived,
        now: float,
        plain: MapRequest | None = None,
    ) -> list[Action]:
        """Answer a request for `eid` that `datagram` carries: an ECM, or the `plain`
        Map-Request (which is put in an ECM if it goes to an ETR)."""
        resolution = self.map_server.resolve(iid, eid, now)
        if not resolution.registrations:
            return [self._negative(nonce, iid, eid, resolution, reply_to)]
        if any(r.proxy_reply for r in resolution.registrations):
            return [self._proxy_reply(nonce, resolution, reply_to)]
        return self._forward(datagram, resolution, eid, now, plain)

    def _negative(
        self, nonce: int, iid: int, eid: IPAddress, resolution: Resolution, reply_to: Endpoint
    ) -> SendDatagram:
        site = resolution.site
        if site is None:
            prefix, ttl = self.map_server.sites.negative_prefix(iid, eid), NO_SITE_TTL
            self.counters.add("reply.negative-no-site")
        else:
            prefix, ttl = site.not_registered_prefix(iid, eid), NOT_REGISTERED_TTL
            self.counters.add("reply.negative-not-registered")
        self.counters.add("out.map-reply")
        return SendDatagram(self.negative_replies.encode(nonce, prefix, ttl), reply_to)

    def _proxy_reply(self, nonce: int, resolution: Resolution, reply_to: Endpoint) -> SendDatagram:
        assert resolution.prefix is not None
        generation = self.map_server.registrations.generation
        reply = self.proxy_replies.encode(
            nonce, resolution.prefix, resolution.registrations, generation
        )
        self.counters.add("reply.proxy")
        self.counters.add("out.map-reply")
        return SendDatagram(reply, reply_to)

    def _forward(
        self,
        datagram: DatagramReceived,
        resolution: Resolution,
        eid: IPAddress,
        now: float,
        plain: MapRequest | None,
    ) -> list[Action]:
        source = str(datagram.source.address)
        rloc = pick_etr_rloc(resolution.registrations, datagram.local.address)
        if rloc is None:
            return list(self.drops.drop("no-etr-rloc", source, now, str(resolution.prefix)))
        payload = datagram.payload if plain is None else encapsulate_plain(plain, datagram, eid)
        if payload is None:
            return list(self.drops.drop("no-inner-header", source, now, str(eid)))
        self.counters.add("forward.to-etr")
        self.counters.add("out.ecm")
        # source_address None: the outer source is our address towards the ETR.
        return [SendDatagram(payload, Endpoint(rloc, CONTROL_PORT))]


def encapsulate_plain(
    request: MapRequest, datagram: DatagramReceived, eid: IPAddress
) -> bytes | None:
    """A plain Map-Request in an ECM from an ITR-RLOC of the EID's family, else None."""
    for address in request.itr_rlocs:
        if isinstance(address, IPv4Address | IPv6Address) and address.version == eid.version:
            return encapsulate_request(
                request, datagram.payload, address, eid, datagram.source.port
            )
    return None
