"""The seed scenario's mapping system on a virtual clock: one Map-Server/Map-Resolver node.

Two ETRs (lisp1, lisp2) register every 60 s with want-map-notify and an ITR
asks for EIDs in ECMs; every message is hand-built and goes through
Node.handle, and timers fire when node.next_deadline() says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address

from helpers.mapping_messages import (
    LISP1,
    LISP2,
    deliver,
    ecm_request,
    mapping_node,
    record,
    register,
    sends,
)
from lispstack.core.events import Action, Endpoint, SendDatagram, TimerFired, Trace
from lispstack.core.node import Node
from lispstack.wire import Ecm, MapNotify, MapReply, decode_control, verify_raw

SEED = """
[node]
name = "mapserver"
roles = ["map-server", "map-resolver"]

[[sites]]
name = "site-a"
auth-key = "site-a-secret"
eid-prefixes = ["192.168.1.0/24"]

[[sites]]
name = "site-b"
auth-key = "site-b-secret"
eid-prefixes = ["192.168.2.0/24"]
"""


@dataclass
class Etr:
    name: str
    rloc: IPv4Address
    eid: str
    key: bytes
    proxy: bool = False
    nonce: int = 0
    notified: list[int] = field(default_factory=list)

    def register_message(self) -> bytes:
        self.nonce += 1
        rec = record(self.eid, 24, self.rloc)
        return register((rec,), self.key, nonce=self.nonce, proxy=self.proxy)

    def receive(self, send: SendDatagram) -> None:
        assert send.destination == Endpoint(self.rloc, 61000)
        assert verify_raw(send.payload, self.key)
        notify = decode_control(send.payload)
        assert isinstance(notify, MapNotify)
        self.notified.append(notify.nonce)


@dataclass
class Sim:
    node: Node
    now: float = 0.0
    traces: list[Trace] = field(default_factory=list)
    next_register: dict[str, float] = field(default_factory=dict)

    def run_until(self, when: float, etrs: list[Etr], every: float = 60.0) -> None:
        """Advance the clock, firing timers and letting each ETR re-register every `every` s."""
        next_register = self.next_register
        for etr in etrs:
            next_register.setdefault(etr.name, self.now)
        while True:
            candidates = [next_register[e.name] for e in etrs if next_register[e.name] <= when]
            deadline = self.node.next_deadline()
            if deadline is not None and deadline <= when:
                candidates.append(deadline)
            if not candidates:
                break
            self.now = max(self.now, min(candidates))
            if deadline is not None and deadline <= self.now:
                self._record(self.node.handle(TimerFired(), self.now))
            for etr in etrs:
                if next_register[etr.name] <= self.now:
                    self.etr_registers(etr)
                    next_register[etr.name] = self.now + every
        self.now = when

    def etr_registers(self, etr: Etr) -> None:
        actions = deliver(self.node, etr.register_message(), self.now, source=etr.rloc, port=61000)
        self._record(actions)
        (send,) = sends(actions)
        etr.receive(send)

    def itr_asks(self, eid: str, nonce: int) -> SendDatagram:
        actions = deliver(self.node, ecm_request(eid, nonce=nonce), self.now)
        self._record(actions)
        (send,) = sends(actions)
        return send

    def _record(self, actions: list[Action]) -> None:
        self.traces.extend(a for a in actions if isinstance(a, Trace))


def test_seed_scenario_on_a_virtual_clock() -> None:
    sim = Sim(mapping_node(SEED))
    lisp1 = Etr("lisp1", LISP1, "192.168.1.0", b"site-a-secret")
    lisp2 = Etr("lisp2", LISP2, "192.168.2.0", b"site-b-secret")

    # 1. Registration: both sites, each Map-Register answered by its Map-Notify.
    sim.run_until(0.0, [lisp1, lisp2])
    assert lisp1.notified == [1] and lisp2.notified == [1]
    registrations = sim.node.show("registrations", None, sim.now)
    assert isinstance(registrations, list)
    assert {e["eid"] for e in registrations} == {"192.168.1.0/24", "192.168.2.0/24"}

    # 3. Negative mapping for 4.2.2.2: 0.0.0.0/1, natively forward, 15 minutes.
    reply = decode_control(sim.itr_asks("4.2.2.2", nonce=0x4242).payload)
    assert isinstance(reply, MapReply) and reply.nonce == 0x4242
    assert (str(reply.records[0].eid), reply.records[0].eid_mask_len) == ("0.0.0.0", 1)
    assert reply.records[0].ttl == 15

    # 4. lisp2 asked for no proxy reply: the same ECM goes on to lisp2.
    request = ecm_request("192.168.2.1", nonce=0x2222)
    (forwarded,) = sends(deliver(sim.node, request, sim.now))
    assert forwarded.payload == request and forwarded.destination == Endpoint(LISP2, 4342)
    assert isinstance(decode_control(forwarded.payload), Ecm)

    # Ten minutes of refreshes every 60 s: the registrations never lapse.
    sim.run_until(600.0, [lisp1, lisp2])
    assert len(lisp2.notified) == 11
    assert not [t for t in sim.traces if t.event == "registration-expired"]

    # 5. lisp2 now asks for proxy-reply: the Map-Server answers itself.
    lisp2.proxy = True
    sim.etr_registers(lisp2)
    proxy = decode_control(sim.itr_asks("192.168.2.1", nonce=0x5555).payload)
    assert isinstance(proxy, MapReply) and not proxy.records[0].authoritative
    assert [loc.address for loc in proxy.records[0].locators] == [LISP2]

    # lisp2 goes silent; lisp1 keeps registering. 180 s later lisp2 has expired.
    last = sim.now
    sim.run_until(last + 179.0, [lisp1])
    still = decode_control(sim.itr_asks("192.168.2.1", nonce=1).payload)
    assert isinstance(still, MapReply) and still.records[0].locators
    sim.run_until(last + 180.0, [lisp1])
    expired = [t for t in sim.traces if t.event == "registration-expired"]
    assert [t.fields["site"] for t in expired] == ["site-b"]
    gone = decode_control(sim.itr_asks("192.168.2.1", nonce=2).payload)
    assert isinstance(gone, MapReply) and gone.records[0].ttl == 1
    assert not gone.records[0].locators

    sites = sim.node.show("sites", None, sim.now)
    assert isinstance(sites, list)
    assert [(s["site"], s["registered"]) for s in sites] == [("site-a", True), ("site-b", False)]
    counters = sim.node.counters
    assert counters.get("reply.negative-no-site") == 1
    assert counters.get("reply.negative-not-registered") == 1
    assert counters.get("reply.proxy") == 2
    assert counters.get("forward.to-etr") == 1
    assert counters.get("registrations.expired") == 1
    assert counters.get("out.map-notify") == len(lisp1.notified) + len(lisp2.notified)
