"""Seed scenario steps 1-5 in memory: two xTR nodes and the Map-Server/Map-Resolver node.

Every datagram goes through Node.handle of its destination, on a virtual clock.
"""

from __future__ import annotations

import random
from ipaddress import ip_address
from pathlib import Path

from helpers.xtr_fixtures import build_xtr, datagram, icmp, lisp1_config, lisp2_config
from lispstack.config import load_config
from lispstack.core.build import build_node
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

MAP_SERVER_CONFIG = Path(__file__).parents[2] / "examples" / "mapserver.toml"


def _ep(address: str, port: int) -> Endpoint:
    return Endpoint(ip_address(address), port)


class Lab:
    def __init__(self, *, proxy_reply_b: bool = False) -> None:
        self.map_server = build_node(load_config(MAP_SERVER_CONFIG), random.Random(7))
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
        source = str(action.source_address or at)
        received = datagram(
            action.payload, source, action.source_port, dst, action.destination.port
        )
        if dst.endswith(".254"):
            for out in self.map_server.handle(received, self.now):
                if isinstance(out, SendDatagram):
                    self.send(dst, out)
            return
        self.run(dst, self.nodes[dst].handle(received, self.now))

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
    assert lab.map_server.counters.get("forward.to-etr") == 1
    assert lab.delivered["10.0.2.2"] == [icmp("192.168.1.1", "192.168.2.1")]
    lab.ping("10.0.2.2", "192.168.2.1", "192.168.1.1")  # the echo reply
    assert lab.delivered["10.0.1.1"] == [icmp("192.168.2.1", "192.168.1.1")]
    cache = lab.nodes["10.0.1.1"].show("map-cache", None, lab.now)
    assert isinstance(cache, list) and cache[0]["eid"] == "192.168.2.0/24"
    assert cache[0]["authoritative"] is True and cache[0]["source"] == "10.0.2.2"


def test_step_5_proxy_reply_answered_by_map_server() -> None:
    lab = Lab(proxy_reply_b=True)
    lab.ping("10.0.1.1", "192.168.1.1", "192.168.2.1")
    assert lab.map_server.counters.get("forward.to-etr") == 0
    assert lab.map_server.counters.get("reply.proxy") == 1
    assert lab.delivered["10.0.2.2"] == [icmp("192.168.1.1", "192.168.2.1")]
    cache = lab.nodes["10.0.1.1"].show("map-cache", None, lab.now)
    assert isinstance(cache, list) and cache[0]["authoritative"] is False
