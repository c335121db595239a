"""An in-memory network with a NAT: four nodes, a virtual clock, every datagram through Node.handle.

    natted xTR 10.1.0.2 (EIDs 192.168.10.0/24) --- NAT 203.0.113.1 --- public side:
        Map-Server/Map-Resolver 198.51.100.254, RTR 198.51.100.1,
        public xTR 198.51.100.20 (EIDs 192.168.20.0/24)

The NAT behaves as Linux masquerade does: it maps an inside (address, port)
talking to an outside (address, port) onto a port of its public address,
and lets in only what comes from that same outside (address, port) to that
port (address- and port-dependent filtering); a binding unused for
`binding_timeout` seconds is forgotten.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from ipaddress import IPv4Address, ip_address, ip_network

from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import (
    Action,
    DatagramReceived,
    Endpoint,
    PacketFromTun,
    SendDatagram,
    TimerFired,
    WriteToTun,
)
from lispstack.core.node import Node

PRIVATE = ip_network("10.1.0.0/24")
NAT_PUBLIC = IPv4Address("203.0.113.1")
MS = IPv4Address("198.51.100.254")
RTR = IPv4Address("198.51.100.1")
NATTED = IPv4Address("10.1.0.2")
PUBLIC = IPv4Address("198.51.100.20")
NATTED_EID = "192.168.10.1"
PUBLIC_EID = "192.168.20.1"

MAP_SERVER = """
[node]
name = "ms"
roles = ["map-server", "map-resolver"]

[[sites]]
name = "natted"
auth-key = "natted-key"
eid-prefixes = ["192.168.10.0/24"]
rtrs = ["198.51.100.1"]

[[sites]]
name = "public"
auth-key = "public-key"
eid-prefixes = ["192.168.20.0/24"]
"""

RTR_CONFIG = """
[node]
name = "rtr"
roles = ["rtr"]

[[map-resolvers]]
address = "198.51.100.254"
"""


def xtr_config(name: str, rloc: IPv4Address, prefix: str, key: str, nat: str = "auto") -> str:
    return f"""
[node]
name = "{name}"
roles = ["itr", "etr"]

[[database-mappings]]
eid-prefix = "{prefix}"
rlocs = [{{ address = "{rloc}" }}]

[[map-servers]]
address = "198.51.100.254"
auth-key = "{key}"
register-interval = 20

[[map-resolvers]]
address = "198.51.100.254"

[etr]
nat-traversal = "{nat}"
"""


@dataclass
class Nat:
    public: IPv4Address
    binding_timeout: float = 120.0
    next_port: int = 40000
    out: dict[tuple[Endpoint, Endpoint], Endpoint] = field(default_factory=dict)
    back: dict[tuple[int, Endpoint], Endpoint] = field(default_factory=dict)
    used: dict[int, float] = field(default_factory=dict)

    def outbound(self, inside: Endpoint, remote: Endpoint, now: float) -> Endpoint:
        mapped = self.out.get((inside, remote))
        if mapped is None or now - self.used[mapped.port] >= self.binding_timeout:
            mapped = Endpoint(self.public, self.next_port)
            self.next_port += 1
            self.out[inside, remote] = mapped
            self.back[mapped.port, remote] = inside
        self.used[mapped.port] = now
        return mapped

    def inbound(self, remote: Endpoint, port: int, now: float) -> Endpoint | None:
        inside = self.back.get((port, remote))
        if inside is None or now - self.used[port] >= self.binding_timeout:
            return None
        self.used[port] = now
        return inside

    def renumber(self, public: IPv4Address) -> None:
        """The NAT's public address changes: every binding is gone."""
        self.public = public
        self.out.clear()
        self.back.clear()


class NatNetwork:
    def __init__(self, *, natted_nat: str = "auto") -> None:
        rng = random.Random(5)
        self.nat = Nat(NAT_PUBLIC)
        self.nodes: dict[IPv4Address, Node] = {
            MS: build_node(parse_config(MAP_SERVER, "ms.toml"), rng),
            RTR: build_node(parse_config(RTR_CONFIG, "rtr.toml"), rng, [RTR]),
            NATTED: build_node(
                parse_config(
                    xtr_config("natted", NATTED, "192.168.10.0/24", "natted-key", natted_nat),
                    "natted.toml",
                ),
                rng,
            ),
            PUBLIC: build_node(
                parse_config(
                    xtr_config("public", PUBLIC, "192.168.20.0/24", "public-key"), "public.toml"
                ),
                rng,
            ),
        }
        self.now = 0.0
        self.delivered: dict[IPv4Address, list[bytes]] = {a: [] for a in self.nodes}
        self.wire: list[tuple[Endpoint, Endpoint, bytes]] = []
        """Every datagram as it crossed the public side (source, destination, payload)."""
        self.dropped_at_nat = 0
        self.advance(0.0)

    @property
    def natted(self) -> Node:
        return self.nodes[NATTED]

    @property
    def rtr(self) -> Node:
        return self.nodes[RTR]

    @property
    def map_server(self) -> Node:
        return self.nodes[MS]

    def advance(self, seconds: float) -> None:
        """Run every timer due up to now + seconds, in deadline order."""
        end = self.now + seconds
        while True:
            due = [
                (deadline, address)
                for address, node in self.nodes.items()
                if (deadline := node.next_deadline()) is not None and deadline <= end
            ]
            if not due:
                break
            deadline, address = min(due)
            self.now = max(self.now, deadline)
            self.run(address, self.nodes[address].handle(TimerFired(), self.now))
        self.now = end

    def tun(self, at: IPv4Address, packet: bytes) -> None:
        self.run(at, self.nodes[at].handle(PacketFromTun(packet), self.now))

    def run(self, at: IPv4Address, actions: list[Action]) -> None:
        queue: deque[tuple[IPv4Address, Action]] = deque((at, a) for a in actions)
        while queue:
            where, action = queue.popleft()
            if isinstance(action, WriteToTun):
                self.delivered[where].append(action.packet)
            elif isinstance(action, SendDatagram):
                arrived = self._carry(where, action)
                if arrived is not None:
                    to, received = arrived
                    queue.extend((to, a) for a in self.nodes[to].handle(received, self.now))

    def _carry(
        self, at: IPv4Address, action: SendDatagram
    ) -> tuple[IPv4Address, DatagramReceived] | None:
        source_address = action.source_address or at
        assert isinstance(source_address, IPv4Address)
        source = Endpoint(source_address, action.source_port)
        destination = action.destination
        if source.address in PRIVATE and destination.address not in PRIVATE:
            source = self.nat.outbound(source, destination, self.now)
        self.wire.append((source, destination, action.payload))
        if destination.address == self.nat.public:
            inside = self.nat.inbound(source, destination.port, self.now)
            if inside is None:
                self.dropped_at_nat += 1
                return None
            destination = inside
        to = destination.address
        assert isinstance(to, IPv4Address)
        if to not in self.nodes:
            return None
        return to, DatagramReceived(action.payload, source, destination)


def eid(text: str) -> IPv4Address:
    address = ip_address(text)
    assert isinstance(address, IPv4Address)
    return address
