"""Moving EIDs in memory: a host of a dynamic prefix moves from xTR A to xTR B.

Nodes: the Map-Server/Map-Resolver (10.0.9.254), xTR A (10.0.1.1) and xTR B
(10.0.3.3) sharing the dynamic prefix 192.168.1.0/24, and a correspondent
xTR C (10.0.2.2, 192.168.2.0/24). Every datagram goes through Node.handle of
its destination, on a virtual clock.
"""

from __future__ import annotations

import random
from ipaddress import ip_address

import pytest

from helpers.xtr_fixtures import datagram, icmp
from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import Action, PacketFromTun, SendDatagram, Trace, WriteToTun
from lispstack.core.map_server import MapServer
from lispstack.core.node import Node

MS = "10.0.9.254"
HOST = "192.168.1.10"
PEER = "192.168.2.1"

MAP_SERVER = """
[node]
name = "ms"
roles = ["map-server", "map-resolver"]
[[sites]]
name = "mobile"
auth-key = "mobile-secret"
eid-prefixes = ["192.168.1.0/24"]
accept-more-specifics = true
[[sites]]
name = "peer"
auth-key = "peer-secret"
eid-prefixes = ["192.168.2.0/24"]
"""

XTR = """
[node]
name = "NAME"
roles = ["itr", "etr"]
[[database-mappings]]
eid-prefix = "PREFIX"
rlocs = [{ address = "RLOC" }]
DYNAMIC
[[map-servers]]
address = "MS"
auth-key = "KEY"
[[map-resolvers]]
address = "MS"
"""


def xtr(name: str, prefix: str, rloc: str, key: str, dynamic: str = "", more: str = "") -> Node:
    text = (
        XTR.replace("NAME", name)
        .replace("PREFIX", prefix)
        .replace("RLOC", rloc)
        .replace("DYNAMIC", dynamic)
        .replace("KEY", key)
        .replace("MS", MS)
    ) + more
    return build_node(parse_config(text, f"{name}.toml"), random.Random(name))


class Net:
    def __init__(self, *, limit: int = 1000, subscribe: bool = False) -> None:
        dynamic = f"dynamic = true\ndynamic-timeout = 30\ndynamic-limit = {limit}"
        more = "[itr]\nsubscribe = true\n" if subscribe else ""
        self.nodes = {
            MS: build_node(parse_config(MAP_SERVER, "ms.toml"), random.Random(1)),
            "10.0.1.1": xtr("a", "192.168.1.0/24", "10.0.1.1", "mobile-secret", dynamic, more),
            "10.0.3.3": xtr("b", "192.168.1.0/24", "10.0.3.3", "mobile-secret", dynamic, more),
            "10.0.2.2": xtr("c", "192.168.2.0/24", "10.0.2.2", "peer-secret", "", more),
        }
        self.delivered: dict[str, list[bytes]] = {rloc: [] for rloc in self.nodes}
        self.traces: list[tuple[str, Trace]] = []
        self.now = 0.0
        self.tick()

    def run(self, at: str, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, WriteToTun):
                self.delivered[at].append(action.packet)
            elif isinstance(action, Trace):
                self.traces.append((at, action))
            elif isinstance(action, SendDatagram):
                dst = str(action.destination.address)
                source = str(action.source_address or at)
                received = datagram(
                    action.payload, source, action.source_port, dst, action.destination.port
                )
                self.run(dst, self.nodes[dst].handle(received, self.now))

    def tick(self, seconds: float = 0.0) -> None:
        self.now += seconds
        for rloc, node in self.nodes.items():
            self.run(rloc, node.on_timer(self.now))

    def send(self, at: str, src: str, dst: str) -> None:
        self.run(at, self.nodes[at].handle(PacketFromTun(icmp(src, dst)), self.now))

    def events(self, name: str) -> list[tuple[str, Trace]]:
        return [(at, t) for at, t in self.traces if t.event == name]

    def registered(self, eid: str) -> list[str]:
        (map_server,) = (r for r in self.nodes[MS].roles if isinstance(r, MapServer))
        resolution = map_server.resolve(0, ip_address(eid), self.now)
        return sorted(r.registered_by for r in resolution.registrations)

    def count(self, rloc: str, name: str) -> int:
        return self.nodes[rloc].counters.get(name)


def test_a_host_is_learned_from_its_first_packet_and_registered_as_a_host_prefix() -> None:
    net = Net()
    assert net.registered(HOST) == []
    net.send("10.0.1.1", HOST, PEER)
    assert net.registered(HOST) == ["10.0.1.1"]
    assert net.count("10.0.1.1", "dynamic-eids.learned") == 1
    # The dynamic prefix itself is never registered: another host is not ours.
    assert net.registered("192.168.1.11") == []
    # The peer answers; its ITR resolves the host prefix and reaches xTR A.
    net.send("10.0.2.2", PEER, HOST)
    assert len(net.delivered["10.0.1.1"]) == 1
    # Later packets refresh the host: no second registration.
    net.send("10.0.1.1", HOST, PEER)
    assert net.count("10.0.1.1", "dynamic-eids.learned") == 1


def test_an_idle_host_is_withdrawn_with_a_ttl_0_register_and_smrs() -> None:
    net = Net()
    net.send("10.0.1.1", HOST, PEER)
    net.send("10.0.2.2", PEER, HOST)
    net.tick(20.0)
    net.send("10.0.1.1", HOST, PEER)  # refreshed at 20 s: alive until 50 s
    net.tick(25.0)
    assert net.registered(HOST) == ["10.0.1.1"]
    net.tick(10.0)
    assert net.registered(HOST) == []
    assert net.count("10.0.1.1", "dynamic-eids.idle") == 1
    assert net.count(MS, "registrations.deregistered") == 1
    assert net.count("10.0.1.1", "out.smr") >= 1
    assert net.count("10.0.2.2", "in.smr") >= 1


@pytest.mark.parametrize("subscribe", [False, True], ids=["smr", "smr-and-pub-sub"])
def test_a_moved_host_is_replaced_at_the_map_server_and_traffic_follows(subscribe: bool) -> None:
    # With pub-sub on, the Map-Server's move notice (an unsolicited Map-Notify) must
    # still reach the move handling, not the subscriber's publication check.
    net = Net(subscribe=subscribe)
    net.send("10.0.1.1", HOST, PEER)
    net.send("10.0.2.2", PEER, HOST)
    assert len(net.delivered["10.0.1.1"]) == 1
    net.tick(1.0)
    # The host moves: its next packet leaves through xTR B.
    net.send("10.0.3.3", HOST, PEER)
    assert net.registered(HOST) == ["10.0.3.3"]
    assert net.count(MS, "registrations.moved") == 1
    assert net.count("10.0.1.1", "in.map-notify.moved") == 1
    assert net.count(MS, "map-notify-ack.moved") == 1
    assert net.count("10.0.1.1", "dynamic-eids.moved") == 1
    assert net.count("10.0.1.1", "drop.map-notify-unknown-subscription") == 0
    # xTR A SMRed the peer, which asked again: its traffic now goes to xTR B.
    assert net.count("10.0.2.2", "out.map-request.smr-invoked") == 1
    net.tick(0.5)
    net.send("10.0.2.2", PEER, HOST)
    assert len(net.delivered["10.0.3.3"]) == 1
    assert len(net.delivered["10.0.1.1"]) == 1
    # xTR A no longer answers for the host.
    assert [t.fields["eid"] for _, t in net.events("dynamic-eid-moved")] == [HOST + "/32"]


def test_the_host_moving_back_is_replaced_again() -> None:
    net = Net()
    net.send("10.0.1.1", HOST, PEER)
    net.send("10.0.3.3", HOST, PEER)
    net.tick(1.0)
    net.send("10.0.1.1", HOST, PEER)
    assert net.registered(HOST) == ["10.0.1.1"]
    assert net.count(MS, "registrations.moved") == 2


def test_a_flood_of_sources_is_capped_and_counted() -> None:
    net = Net(limit=5)
    for host in range(1, 200):
        net.send("10.0.1.1", f"192.168.1.{host}", PEER)
    assert net.count("10.0.1.1", "dynamic-eids.learned") == 5
    assert net.count("10.0.1.1", "drop.dynamic-eid-limit") == 194
    assert net.count(MS, "registrations.accepted") < 20
    database = net.nodes["10.0.1.1"].show("database", None, net.now)
    assert isinstance(database, list) and len(database) == 1 + 5


def test_a_dynamic_hosts_packets_leave_the_one_call_path_to_the_learning_itr() -> None:
    """Itr.encapsulate_ipv4 (the TUN engine's one-call path) skips the host learning
    of handle_tun: it must hand a dynamic prefix's packets back, or an active host
    would be withdrawn as idle."""
    net = Net()
    net.send("10.0.1.1", HOST, PEER)  # learned; the peer's mapping is cached
    a = net.nodes["10.0.1.1"]
    assert a.encapsulate_ipv4 is not None
    assert a.encapsulate_ipv4(icmp(HOST, PEER), 0, net.now) is None
    c = net.nodes["10.0.2.2"]
    net.send("10.0.2.2", PEER, HOST)  # c caches the host's mapping
    assert c.encapsulate_ipv4 is not None
    assert c.encapsulate_ipv4(icmp(PEER, HOST), 0, net.now) is not None
