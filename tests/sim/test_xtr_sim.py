"""Seed scenario steps 1-5 with two xTR nodes and a stand-in Map-Server/Map-Resolver, in memory.

The Map-Server / Map-Resolver here is a hand-written responder (the real
roles had not landed when this was written). ECM and Map-Notify datagrams go
to the xTR role directly, since wire.control cannot decode them yet.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, ip_address

from helpers.xtr_fixtures import build_xtr, datagram, icmp, lisp1_config, lisp2_config
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.events import (
    Action,
    Endpoint,
    ForwardNatively,
    InstallNativeRoute,
    PacketFromTun,
    SendDatagram,
    WriteToTun,
)
from lispstack.core.node import Node
from lispstack.core.xtr_messages import decode_auth_header, decode_ecm, sign, verify
from lispstack.wire.control import decode_control
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import Action as MapAction
from lispstack.wire.records import Locator, MappingRecord

SITES = {
    "192.168.1.0/24": ("10.0.1.1", "site-a-secret"),
    "192.168.2.0/24": ("10.0.2.2", "site-b-secret"),
}


class MapServerStandIn:
    def __init__(self) -> None:
        self.proxy: dict[str, bool] = {}
        self.forwarded = 0

    def handle(self, payload: bytes) -> list[SendDatagram]:
        if payload[0] >> 4 == 3:
            return self._register(payload)
        inner = decode_ecm(payload)
        request = decode_control(inner.message)
        assert isinstance(request, MapRequest)
        eid = request.records[0].eid
        itr = request.itr_rlocs[0]
        for prefix, (rloc, _) in SITES.items():
            if isinstance(eid, IPv4Address) and eid in IPv4Network(prefix):
                if not self.proxy.get(prefix):
                    self.forwarded += 1
                    return [SendDatagram(payload, _ep(rloc, 4342))]
                record = MappingRecord(
                    eid=IPv4Network(prefix).network_address,
                    eid_mask_len=24,
                    locators=(Locator(address=ip_address(rloc)),),
                )
                break
        else:
            record = MappingRecord(
                eid=ip_address("0.0.0.0"),
                eid_mask_len=1,
                ttl=15,
                action=MapAction.NATIVELY_FORWARD,
                authoritative=True,
            )
        reply = MapReply(nonce=request.nonce, records=(record,)).encode()
        return [SendDatagram(reply, _ep(str(itr), inner.sport))]

    def _register(self, payload: bytes) -> list[SendDatagram]:
        header = decode_auth_header(payload)
        for prefix, (rloc, key) in SITES.items():
            if verify(payload, key, header.algorithm_id):
                self.proxy[prefix] = bool(payload[0] & 0x08)
                body = bytearray(payload)
                body[0], body[1], body[2] = 0x48, 0, 0
                length = len(header.auth)
                body[16 : 16 + length] = bytes(length)
                sign(body, 16, header.algorithm_id, key)
                return [SendDatagram(bytes(body), _ep(rloc, 4342))]
        return []


def _ep(address: str, port: int) -> Endpoint:
    return Endpoint(ip_address(address), port)


class Lab:
    def __init__(self, *, proxy_reply_b: bool = False) -> None:
        self.ms = MapServerStandIn()
        self.nodes: dict[str, Node] = {}
        self.delivered: dict[str, list[bytes]] = {"10.0.1.1": [], "10.0.2.2": []}
        self.native: list[bytes] = []
        self.native_routes: list[InstallNativeRoute] = []
        self.counters: dict[str, Counters] = {}
        for config, rloc in (
            (lisp1_config(), "10.0.1.1"),
            (lisp2_config(proxy_reply=proxy_reply_b), "10.0.2.2"),
        ):
            etr, itr, counters = build_xtr(config)
            self.nodes[rloc] = Node(config.name, [etr, itr], counters, DropRecorder(counters))
            self.counters[rloc] = counters
        self.now = 0.0
        for rloc in self.nodes:
            self.run(rloc, self.nodes[rloc].on_timer(0.0))

    def run(self, at: str, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, WriteToTun):
                self.delivered[at].append(action.packet)
            elif isinstance(action, ForwardNatively):
                self.native.append(action.packet)
            elif isinstance(action, InstallNativeRoute):
                self.native_routes.append(action)
            elif isinstance(action, SendDatagram):
                self.send(at, action)

    def send(self, at: str, action: SendDatagram) -> None:
        dst = str(action.destination.address)
        if dst.endswith(".254"):
            for out in self.ms.handle(action.payload):
                self.send(dst, out)
            return
        node = self.nodes[dst]
        source = str(action.source_address or at)
        received = datagram(
            action.payload, source, action.source_port, dst, action.destination.port
        )
        if action.payload[0] >> 4 in (4, 8) and action.destination.port == 4342:
            etr = node.roles[0]  # stand-in: wire.control cannot decode ECM / Map-Notify yet
            self.run(dst, etr.handle_control(None, received, self.now))  # type: ignore[arg-type]
        else:
            self.run(dst, node.handle(received, self.now))

    def ping(self, node: str, src: str, dst: str) -> None:
        self.now += 1.0
        self.run(node, self.nodes[node].handle(_tun(icmp(src, dst)), self.now))


def _tun(packet: bytes) -> PacketFromTun:
    return PacketFromTun(packet)


def test_registration_step_1() -> None:
    lab = Lab()
    for node in lab.nodes.values():
        database = node.show("database", None, lab.now)
        assert isinstance(database, list)
        assert database[0]["registrations"][0]["state"] == "registered"


def test_steps_2_and_3_not_eligible_then_negative_natively_forward() -> None:
    lab = Lab()
    c = lab.counters["10.0.1.1"]
    lab.ping("10.0.1.1", "10.0.1.1", "4.2.2.2")
    assert c.get("native.not-eid-source") == 1 and c.get("out.map-request") == 0
    lab.ping("10.0.1.1", "192.168.1.1", "4.2.2.2")
    assert c.get("out.map-request") == 1
    assert lab.native_routes == [InstallNativeRoute(0, "0.0.0.0/1")]
    assert lab.native[-1] == icmp("192.168.1.1", "4.2.2.2")
    lab.ping("10.0.1.1", "192.168.1.1", "4.2.2.2")
    assert c.get("out.map-request") == 1 and len(lab.native) == 3


def test_step_4_positive_mapping_via_forwarded_request_first_ping_delivered() -> None:
    lab = Lab()
    lab.ping("10.0.1.1", "192.168.1.1", "192.168.2.1")
    assert lab.ms.forwarded == 1
    assert lab.delivered["10.0.2.2"] == [icmp("192.168.1.1", "192.168.2.1")]
    lab.ping("10.0.2.2", "192.168.2.1", "192.168.1.1")  # the echo reply
    assert lab.delivered["10.0.1.1"] == [icmp("192.168.2.1", "192.168.1.1")]
    cache = lab.nodes["10.0.1.1"].show("map-cache", None, lab.now)
    assert isinstance(cache, list) and cache[0]["eid"] == "192.168.2.0/24"
    assert cache[0]["authoritative"] is True and cache[0]["source"] == "10.0.2.2"


def test_step_5_proxy_reply_answered_by_map_server() -> None:
    lab = Lab(proxy_reply_b=True)
    lab.ping("10.0.1.1", "192.168.1.1", "192.168.2.1")
    assert lab.ms.forwarded == 0
    assert lab.delivered["10.0.2.2"] == [icmp("192.168.1.1", "192.168.2.1")]
    cache = lab.nodes["10.0.1.1"].show("map-cache", None, lab.now)
    assert isinstance(cache, list) and cache[0]["authoritative"] is False
