"""The Map-Resolver role (RFC 9301 section 8.3), answering from the co-located Map-Server.

For each Map-Request (in an ECM, or plain):
- EID in no configured site: negative Map-Reply, Natively-Forward, TTL 15 min,
  A bit set, for the least-specific prefix that overlaps no site prefix;
- site configured but nothing live registered: negative, TTL 1 min, for the
  site prefix (or the host, when the site accepts more-specifics);
- registered with proxy-reply: Map-Reply with the registered RLOCs, A clear;
- registered otherwise: the ECM, byte for byte, to one registering ETR.
Replies go to an ITR-RLOC of the family the request arrived on, at the
(inner) UDP source port. Only the first EID record of a request is answered.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_network

from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.events import CONTROL_PORT, Action, DatagramReceived, Endpoint, SendDatagram
from lispstack.core.map_server import MapServer, Resolution
from lispstack.core.role import Role
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.wire.address import split_instance_id, with_instance_id
from lispstack.wire.control import ControlMessage
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.message_type import MessageType
from lispstack.wire.records import Action as RecordAction
from lispstack.wire.records import Locator, MappingRecord

NO_SITE_TTL = 15
NOT_REGISTERED_TTL = 1
PROXY_REPLY_TTL = 1440


class MapResolver(Role):
    name = "map-resolver"
    control_types = frozenset({MessageType.ECM, MessageType.MAP_REQUEST})

    def __init__(self, map_server: MapServer, counters: Counters, drops: DropRecorder) -> None:
        self.map_server = map_server
        self.counters = counters
        self.drops = drops

    def handle_control(
        self, message: ControlMessage, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        source = str(datagram.source.address)
        if isinstance(message, Ecm):
            request = message.message
            reply_port = message.source_port
        else:
            request = message
            reply_port = datagram.source.port
        if not isinstance(request, MapRequest):
            return list(self.drops.drop("ecm-not-map-request", source, now))
        iid, eid = split_instance_id(request.records[0].eid)
        if not isinstance(eid, IPv4Address | IPv6Address):
            return list(self.drops.drop("unsupported-eid", source, now))
        itr_rloc = _pick_itr_rloc(request, datagram.local.address)
        if itr_rloc is None:
            return list(self.drops.drop("no-itr-rloc", source, now))
        resolution = self.map_server.resolve(iid, eid)
        reply_to = Endpoint(itr_rloc, reply_port)
        if not resolution.registrations:
            return [self._negative(request, iid, eid, resolution, reply_to)]
        if any(r.proxy_reply for r in resolution.registrations):
            return [self._proxy_reply(request, resolution, reply_to)]
        if isinstance(message, Ecm):
            return self._forward(datagram, resolution, source, now)
        return list(self.drops.drop("plain-request-for-registered-eid", source, now))

    def _negative(
        self,
        request: MapRequest,
        iid: int,
        eid: IPAddress,
        resolution: Resolution,
        reply_to: Endpoint,
    ) -> SendDatagram:
        site = resolution.site
        if site is None:
            prefix, ttl, kind = (
                self.map_server.sites.negative_prefix(iid, eid),
                NO_SITE_TTL,
                "no-site",
            )
        else:
            prefix = site.prefix
            if site.site.accept_more_specifics:
                prefix = EidPrefix(iid, ip_network(eid))
            ttl, kind = NOT_REGISTERED_TTL, "not-registered"
        record = MappingRecord(
            eid=with_instance_id(iid, prefix.network.network_address),
            eid_mask_len=prefix.network.prefixlen,
            ttl=ttl,
            action=RecordAction.NATIVELY_FORWARD,
            authoritative=True,
        )
        self.counters.add(f"reply.negative-{kind}")
        return self._reply(request, record, reply_to)

    def _proxy_reply(
        self, request: MapRequest, resolution: Resolution, reply_to: Endpoint
    ) -> SendDatagram:
        assert resolution.prefix is not None
        locators: dict[object, Locator] = {}
        for registration in resolution.registrations:
            for locator in registration.record.locators:
                locators.setdefault(
                    locator.address,
                    Locator(
                        address=locator.address,
                        priority=locator.priority,
                        weight=locator.weight,
                        m_priority=locator.m_priority,
                        m_weight=locator.m_weight,
                        reachable=locator.reachable,
                    ),
                )
        prefix = resolution.prefix
        record = MappingRecord(
            eid=with_instance_id(prefix.iid, prefix.network.network_address),
            eid_mask_len=prefix.network.prefixlen,
            ttl=PROXY_REPLY_TTL,
            locators=tuple(locators.values()),
        )
        self.counters.add("reply.proxy")
        return self._reply(request, record, reply_to)

    def _reply(self, request: MapRequest, record: MappingRecord, to: Endpoint) -> SendDatagram:
        self.counters.add("out.map-reply")
        reply = MapReply(nonce=request.nonce, records=(record,))
        return SendDatagram(reply.encode(), to)

    def _forward(
        self, datagram: DatagramReceived, resolution: Resolution, source: str, now: float
    ) -> list[Action]:
        for registration in resolution.registrations:
            for locator in registration.record.locators:
                address = locator.address
                if isinstance(address, IPv4Address | IPv6Address) and locator.priority != 255:
                    self.counters.add("forward.to-etr")
                    return [SendDatagram(datagram.payload, Endpoint(address, CONTROL_PORT))]
        return list(self.drops.drop("no-etr-rloc", source, now))


def _pick_itr_rloc(request: MapRequest, local: IPAddress) -> IPAddress | None:
    """An ITR-RLOC of the family we were reached on, else any IP ITR-RLOC."""
    candidates = [a for a in request.itr_rlocs if isinstance(a, IPv4Address | IPv6Address)]
    for address in candidates:
        if address.version == local.version:
            return address
    return candidates[0] if candidates else None
