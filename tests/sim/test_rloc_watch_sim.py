"""A multihomed xTR that watches its own RLOCs, in memory (issue 14 item 2): lisp2's
first uplink dies, lisp2 re-registers 10.0.2.2 with the R bit clear and SMRs lisp1,
whose SMR-invoked Map-Request reaches lisp2 on its second RLOC; lisp1's traffic moves
there without a single probe. A lost SMR is sent again a second later; a subscriber
(RFC 9437) hears of it from the Map-Server even with every SMR lost. Virtual clock,
every datagram through Node.handle of its destination."""

from __future__ import annotations

import random
from pathlib import Path

from helpers.multihomed_lab import LISP2
from helpers.xtr_fixtures import build_xtr, datagram, icmp, lisp1_config
from lispstack.config import load_config, parse_config
from lispstack.core.build import build_node
from lispstack.core.drops import DropRecorder
from lispstack.core.events import Action, LocalRlocsChanged, PacketFromTun, SendDatagram
from lispstack.core.node import Node
from lispstack.wire.control import decode_control
from lispstack.wire.map_request import MapRequest

MAP_SERVER_CONFIG = Path(__file__).parents[2] / "examples" / "mapserver.toml"
LISP1, PRIMARY, BACKUP = "10.0.1.1", "10.0.2.2", "10.0.3.2"


def is_smr(payload: bytes) -> bool:
    if payload[0] >> 4 != 1:
        return False
    message = decode_control(payload)
    return isinstance(message, MapRequest) and message.smr


class Sim:
    """lisp1 (10.0.1.1), lisp2 (10.0.2.2 and 10.0.3.2), the Map-Server (10.0.1.254).
    Datagrams to or from a dead address are lost; so are SMRs while `lose_smrs`."""

    def __init__(self, subscribe: bool = False) -> None:
        """`subscribe`: lisp1 subscribes to the mappings it asks for (RFC 9437)."""
        self.map_server = build_node(load_config(MAP_SERVER_CONFIG), random.Random(7))
        self.now = 0.0
        self.dead: set[str] = set()
        self.lose_smrs = False
        self.data_to: list[str] = []
        nodes = []
        lisp1 = lisp1_config(extra="[itr]\nsubscribe = true\n" if subscribe else "")
        for seed, config in enumerate((lisp1, parse_config(LISP2, "lisp2.toml"))):
            etr, itr, counters = build_xtr(config, seed)
            nodes.append(Node(config.name, [etr, itr], counters, DropRecorder(counters)))
        self.lisp1, self.lisp2 = nodes
        self.at = {LISP1: self.lisp1, PRIMARY: self.lisp2, BACKUP: self.lisp2}
        self.usable({PRIMARY, BACKUP})
        for rloc, node in ((LISP1, self.lisp1), (PRIMARY, self.lisp2)):
            self.run(rloc, node.on_timer(0.0))

    def usable(self, addresses: set[str]) -> None:
        """What lisp2's watch of its addresses reports."""
        usable = frozenset(datagram(b"", a, 0, a, 0).source.address for a in addresses)
        self.run(PRIMARY, self.lisp2.handle(LocalRlocsChanged(usable), self.now))

    def run(self, at: str, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendDatagram):
                self.send(at, action)

    def send(self, at: str, action: SendDatagram) -> None:
        src, dst = str(action.source_address or at), str(action.destination.address)
        if src in self.dead or dst in self.dead or (self.lose_smrs and is_smr(action.payload)):
            return
        if action.destination.port == 4341:
            self.data_to.append(dst)
        received = datagram(action.payload, src, action.source_port, dst, action.destination.port)
        node = self.map_server if dst.endswith(".254") else self.at[dst]
        self.run(dst, node.handle(received, self.now))

    def ping(self) -> str:
        """A packet from 192.168.1.1 to 192.168.2.1: the RLOC lisp1 sent it to."""
        self.now += 0.1
        packet = PacketFromTun(icmp("192.168.1.1", "192.168.2.1"))
        self.run(LISP1, self.lisp1.handle(packet, self.now))
        return self.data_to[-1]

    def tick(self, seconds: float) -> None:
        self.now += seconds
        for rloc, node in ((LISP1, self.lisp1), (PRIMARY, self.lisp2)):
            self.run(rloc, node.on_timer(self.now))


def test_the_peer_follows_the_multihomed_xtrs_own_word_without_probes() -> None:
    sim = Sim()
    sim.ping()
    assert sim.ping() == PRIMARY
    sim.dead = {PRIMARY}
    sim.usable({BACKUP})
    assert sim.ping() == BACKUP
    assert sim.lisp2.counters.get("smr.answered") == 1
    assert sim.lisp1.counters.get("out.rloc-probe") == 0
    # Back (a while later: lisp1 asks again at most once a second per EID): registered
    # reachable again, SMRed again, traffic returns.
    sim.tick(2.0)
    sim.dead = set()
    sim.usable({PRIMARY, BACKUP})
    assert sim.ping() == PRIMARY
    assert sim.lisp2.counters.get("smr.answered") == 2
    assert sim.lisp2.counters.get("out.smr.retransmitted") == 0


def test_a_lost_smr_is_sent_again() -> None:
    sim = Sim()
    sim.ping()
    sim.dead = {PRIMARY}
    sim.lose_smrs = True
    sim.usable({BACKUP})
    assert sim.ping() == PRIMARY  # lisp1 knows nothing yet (its probes: every 60 s)
    sim.lose_smrs = False
    sim.tick(1.0)
    assert sim.lisp2.counters.get("out.smr.retransmitted") == 1
    assert sim.ping() == BACKUP
    sim.tick(1.0)  # answered: no more
    assert sim.lisp2.counters.get("out.smr.retransmitted") == 1


def test_a_subscriber_hears_it_from_the_map_server_even_without_the_smr() -> None:
    sim = Sim(subscribe=True)
    sim.ping()
    assert sim.ping() == PRIMARY
    sim.dead = {PRIMARY}
    sim.lose_smrs = True
    sim.usable({BACKUP})  # the re-registration changes the registration: published
    assert sim.map_server.counters.get("out.map-notify.publication") == 1
    assert sim.ping() == BACKUP
    assert sim.lisp1.counters.get("in.smr") == 0
