"""A LISP-DDT hierarchy on a virtual clock: the DDT Map-Resolver's walk, cache, timeouts, loops.

Nodes (built from config, as `lispstack run` builds them) exchange datagrams
through `Net`, which delivers each SendDatagram to the node owning its
destination address (unless that node is down) and keeps what leaves the
hierarchy (to the ITR, to ETRs). Time moves only when a test says so.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

import pytest

from helpers.mapping_messages import (
    KEY_A,
    LISP1,
    LISP2,
    ecm_request,
    record,
    register,
)
from lispstack.config import parse_config
from lispstack.config.model import DelegationChild
from lispstack.core.build import build_node
from lispstack.core.ddt_resolver import DDT_TIMEOUT, ERROR_TTL, DdtResolver
from lispstack.core.events import DatagramReceived, Endpoint, SendDatagram, TimerFired
from lispstack.core.node import Node
from lispstack.core.referrals import ref_locators, referral_record
from lispstack.mapping.prefix import EidPrefix
from lispstack.wire import Ecm, MapReferral, MapReply, decode_control
from lispstack.wire.map_referral import ReferralAction

ROOT, CHILD, MS, MS_B, MR, LOOPY = (IPv4Address(f"10.9.0.{i}") for i in (1, 2, 3, 4, 5, 6))


def _node(name: str, body: str) -> Node:
    text = f'[node]\nname = "{name}"\n{body}'
    return build_node(parse_config(text, f"{name}.toml"), random.Random(1))


def hierarchy() -> dict[IPv4Address, Node]:
    return {
        ROOT: _node(
            "root",
            f"""roles = ["ddt-node"]
[[ddt-prefixes]]
eid-prefix = "192.168.0.0/16"
[[delegations]]
eid-prefix = "192.168.0.0/20"
children = [{{ address = "{CHILD}" }}]
[[delegations]]
eid-prefix = "192.168.64.0/20"
children = [{{ address = "{LOOPY}" }}]
""",
        ),
        CHILD: _node(
            "child",
            f"""roles = ["ddt-node"]
[[ddt-prefixes]]
eid-prefix = "192.168.0.0/20"
[[delegations]]
eid-prefix = "192.168.1.0/24"
kind = "map-server"
ttl = 10
children = [{{ address = "{MS_B}", priority = 1 }}, {{ address = "{MS}", priority = 2 }}]
""",
        ),
        # A misconfigured node: it refers 192.168.64.0/20 back to the root, as wide.
        LOOPY: _node(
            "loopy",
            f"""roles = ["ddt-node"]
[[ddt-prefixes]]
eid-prefix = "192.168.64.0/20"
[[delegations]]
eid-prefix = "192.168.64.0/20"
children = [{{ address = "{ROOT}" }}]
""",
        ),
        MS: _node("ms", _MAP_SERVER),
        MS_B: _node("msb", _MAP_SERVER),
        MR: _node("mr", f'roles = ["map-resolver"]\n[[ddt-roots]]\naddress = "{ROOT}"\n'),
    }


_MAP_SERVER = """roles = ["map-server", "map-resolver"]
[[sites]]
name = "site-a"
auth-key = "site-a-secret"
eid-prefixes = ["192.168.1.0/24"]
"""


@dataclass
class Net:
    nodes: dict[IPv4Address, Node] = field(default_factory=hierarchy)
    now: float = 0.0
    down: set[IPv4Address] = field(default_factory=set)
    outside: list[SendDatagram] = field(default_factory=list)
    delivered: list[tuple[IPv4Address, IPv4Address]] = field(default_factory=list)
    """(from, to) of every datagram between nodes, in order."""

    def send(self, source: Endpoint, send: SendDatagram) -> None:
        queue = [(source, send)]
        while queue:
            origin, out = queue.pop(0)
            to = out.destination.address
            node = self.nodes.get(to)  # type: ignore[call-overload]
            if node is None:
                self.outside.append(out)
                continue
            if to in self.down:
                continue
            self.delivered.append((origin.address, to))  # type: ignore[arg-type]
            event = DatagramReceived(out.payload, origin, out.destination)
            for action in node.handle(event, self.now):
                if isinstance(action, SendDatagram):
                    queue.append((Endpoint(to, action.source_port), action))

    def advance(self, seconds: float) -> None:
        """Move the clock on, firing every timer due on the way."""
        end = self.now + seconds
        while True:
            due = [(d, a) for a, n in self.nodes.items() if (d := n.next_deadline()) is not None]
            due = [(d, a) for d, a in due if d <= end]
            if not due:
                break
            when, address = min(due)
            self.now = max(self.now, when)
            for action in self.nodes[address].handle(TimerFired(), self.now):
                if isinstance(action, SendDatagram):
                    self.send(Endpoint(address, action.source_port), action)
        self.now = end

    def ask(self, eid: str, nonce: int) -> list[SendDatagram]:
        """An ITR's ECM Map-Request to the DDT Map-Resolver; what reaches the outside."""
        self.outside.clear()
        self.delivered.clear()
        request = SendDatagram(ecm_request(eid, nonce=nonce), Endpoint(MR, 4342))
        self.send(Endpoint(LISP1, 50000), request)
        return list(self.outside)

    def counter(self, address: IPv4Address, name: str) -> int:
        return self.nodes[address].counters.get(name)

    def register_site(self, *servers: IPv4Address, nonce: int = 1) -> None:
        for server in servers:
            raw = register((record("192.168.1.0", 24, LISP2),), KEY_A, nonce=nonce)
            self.send(Endpoint(LISP2, 61000), SendDatagram(raw, Endpoint(server, 4342)))


def _resolver(net: Net) -> DdtResolver:
    resolver = net.nodes[MR].roles[0]
    assert isinstance(resolver, DdtResolver)
    return resolver


def _asked(net: Net) -> list[IPv4Address]:
    return [to for origin, to in net.delivered if origin == MR]


def test_a_cold_walk_goes_root_child_map_server_then_the_cache_skips_to_the_map_server() -> None:
    net = Net()
    net.register_site(MS, MS_B)
    (forwarded,) = net.ask("192.168.1.7", 1)
    assert forwarded.destination == Endpoint(LISP2, 4342)  # MS-B forwarded to the ETR
    assert isinstance(decode_control(forwarded.payload), Ecm)
    assert _asked(net) == [ROOT, CHILD, MS_B]
    assert net.counter(MR, "ddt.ms-ack") == 1
    net.ask("192.168.1.8", 2)
    assert _asked(net) == [MS_B]  # the ms-referral for 192.168.1.0/24, from the cache
    assert net.counter(MR, "ddt.cache-hit") == 1


def test_referrals_expire_with_their_ttl() -> None:
    net = Net()
    net.register_site(MS, MS_B)
    net.ask("192.168.1.7", 1)
    net.advance(10 * 60 + 1)  # the ms-referral's TTL is 10 min; the root's 24 h
    net.register_site(MS, MS_B, nonce=2)  # registrations last 3 min
    net.ask("192.168.1.7", 2)
    assert _asked(net) == [CHILD, MS_B]


def test_a_dead_map_server_is_replaced_by_the_next_of_the_referral_set() -> None:
    net = Net()
    net.register_site(MS)
    net.down.add(MS_B)
    assert net.ask("192.168.1.7", 1) == []  # MS-B does not answer
    net.advance(2.0)
    (forwarded,) = net.outside
    assert forwarded.destination == Endpoint(LISP2, 4342)
    assert net.counter(MR, "ddt.timeout") == 1 and net.counter(MR, "ddt.ms-ack") == 1


def _negative_reply(sent: SendDatagram, nonce: int) -> tuple[tuple[str, int], int]:
    """The (prefix, TTL) of a negative Map-Reply to the ITR."""
    assert sent.destination == Endpoint(LISP1, 50000)
    reply = decode_control(sent.payload)
    assert isinstance(reply, MapReply) and reply.nonce == nonce
    (only,) = reply.records
    assert only.locators == ()
    return (str(only.eid), only.eid_mask_len), only.ttl


def test_not_registered_asks_every_map_server_of_the_set_before_the_negative_reply() -> None:
    # RFC 8111 section 7.3.2 (MS-NOT-REGISTERED): the next Map-Server of the referral set
    # is asked; only when all of them said so does the ITR get a negative Map-Reply. Our
    # Map-Servers set I on it (section 6.3: incomplete referral set), so it is not cached.
    net = Net()
    (reply,) = net.ask("192.168.1.7", 1)
    assert _asked(net) == [ROOT, CHILD, MS_B, MS]
    assert _negative_reply(reply, 1) == (("192.168.1.0", 24), 1)
    assert net.counter(MR, "ddt.not-registered") == 2
    net.ask("192.168.1.8", 2)
    assert _asked(net) == [MS_B, MS]  # the ms-referral is cached, the answer is not


def test_a_map_server_that_says_not_registered_does_not_hide_the_one_that_has_it() -> None:
    net = Net()
    net.register_site(MS)  # MS-B (priority 1) has the site but no registration
    (forwarded,) = net.ask("192.168.1.7", 1)
    assert _asked(net) == [ROOT, CHILD, MS_B, MS]
    assert forwarded.destination == Endpoint(LISP2, 4342)
    assert net.counter(MR, "ddt.ms-ack") == 1


def test_a_hole_becomes_a_cached_negative_reply() -> None:
    # RFC 8111 section 7.3.2 (DELEGATION-HOLE): cache it, answer the ITR negatively.
    net = Net()
    (reply,) = net.ask("192.168.200.1", 2)
    assert _negative_reply(reply, 2) == (("192.168.128.0", 17), 15)
    net.ask("192.168.200.2", 3)
    assert _asked(net) == [] and net.counter(MR, "ddt.cache-negative") == 1
    assert len(net.outside) == 1


def test_an_incomplete_referral_is_followed_but_not_cached() -> None:
    # RFC 8111 section 6.3: the receiver of a referral with I set SHOULD NOT cache it.
    net = Net()
    net.register_site(MS, MS_B)
    resolver = _resolver(net)
    referral = MapReferral(
        nonce=1,
        records=(
            referral_record(
                ReferralAction.NODE_REFERRAL,
                EidPrefix(0, IPv4Network("192.168.0.0/20")),
                1440,
                ref_locators([DelegationChild(address=CHILD)]),
                incomplete=True,
            ),
        ),
    ).encode()
    request = DatagramReceived(
        ecm_request("192.168.1.7", nonce=1), Endpoint(LISP1, 50000), Endpoint(MR, 4342)
    )
    (to_root,) = net.nodes[MR].handle(request, 0.0)
    assert isinstance(to_root, SendDatagram) and to_root.destination.address == ROOT
    answer = DatagramReceived(referral, Endpoint(ROOT, 4342), Endpoint(MR, 4342))
    (to_child,) = net.nodes[MR].handle(answer, 0.0)
    assert isinstance(to_child, SendDatagram) and to_child.destination.address == CHILD
    assert len(resolver.cache) == 0


def test_a_referral_loop_walked_from_the_root_ends_with_a_negative_reply() -> None:
    # RFC 8111 sections 7.3.4 and 8.2: a referral not more specific than the one followed
    # is a loop; gone through the root, the ITR gets a negative Map-Reply.
    net = Net()
    (reply,) = net.ask("192.168.64.1", 1)
    assert _asked(net) == [ROOT, LOOPY]
    assert _negative_reply(reply, 1) == (("192.168.64.1", 32), ERROR_TTL)
    assert net.counter(MR, "ddt.loop") == 1
    assert net.nodes[MR].next_deadline() is None  # nothing left pending
    assert ("192.168.64.0/20", "node-referral") in {
        (r["eid"], r["action"]) for r in net.nodes[MR].show("referral-cache", None, 0.0)
    }  # the root's referral, not the looping one (the same prefix, from LOOPY)


def test_a_stale_cached_referral_is_forgotten_and_the_walk_restarts_at_the_root() -> None:
    # RFC 8111 section 7.3.2 (NOT-AUTHORITATIVE) and 8.2: not gone through the root, the
    # cached referral is stale: drop it and ask the root again.
    net = Net()
    net.register_site(MS, MS_B)
    net.ask("192.168.1.7", 1)
    # The child is reconfigured: it no longer holds 192.168.0.0/20.
    net.nodes[CHILD] = _node(
        "child", 'roles = ["ddt-node"]\n[[ddt-prefixes]]\neid-prefix = "10.0.0.0/8"\n'
    )
    _resolver(net).cache.forget(EidPrefix(0, IPv4Network("192.168.1.0/24")))
    net.ask("192.168.2.1", 2)
    assert _asked(net) == [CHILD, ROOT, CHILD]
    assert net.counter(MR, "ddt.restart") == 1
    (reply,) = net.outside  # gone through the root now: NOT-AUTHORITATIVE is final
    assert _negative_reply(reply, 2) == (("192.168.2.1", 32), ERROR_TTL)


def test_a_dead_cached_referral_set_restarts_the_walk_at_the_root() -> None:
    net = Net()
    net.register_site(MS, MS_B)
    net.ask("192.168.1.7", 1)
    net.down.update({MS, MS_B})
    net.ask("192.168.1.8", 2)
    net.advance(2 * DDT_TIMEOUT + 0.1)
    assert net.counter(MR, "ddt.timeout") == 2 and net.counter(MR, "ddt.restart") == 1
    assert _asked(net) == [ROOT, CHILD]  # (MS-B and MS are down: never reached)


def test_a_walk_whose_every_node_is_dead_gives_up() -> None:
    net = Net()
    net.down.add(ROOT)
    net.ask("192.168.1.7", 1)
    net.advance(DDT_TIMEOUT + 0.1)
    assert net.counter(MR, "ddt.timeout") == 1 and net.counter(MR, "ddt.gave-up") == 1
    assert net.nodes[MR].next_deadline() is None


@pytest.mark.parametrize(
    ("source", "nonce"),
    [(ROOT, 99), (IPv4Address("10.9.9.9"), 1)],
    ids=["unknown-nonce", "node-not-asked"],
)
def test_a_referral_nobody_asked_for_is_a_counted_drop(source: IPv4Address, nonce: int) -> None:
    net = Net()
    net.down.add(ROOT)
    net.ask("192.168.1.7", 1)  # pending, nonce 1, ROOT asked
    bogus = MapReferral(nonce=nonce, records=()).encode()
    event = DatagramReceived(bogus, Endpoint(source, 4342), Endpoint(MR, 4342))
    actions = net.nodes[MR].handle(event, net.now)
    assert not any(isinstance(a, SendDatagram) for a in actions)
    assert net.counter(MR, "drop.ddt-unexpected-referral") == 1
