"""Proxy-ETR role, and an ITR that sends natively-forward traffic to PETRs."""

from __future__ import annotations

import random
from ipaddress import IPv4Address

from helpers.xtr_fixtures import LISP1, build_xtr, datagram, icmp, lisp1_config
from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.encapsulation import data_header, decapsulate
from lispstack.core.events import ForwardNatively, InstallNativeRoute, SendDatagram, WriteToTun
from lispstack.core.petr import Petr
from lispstack.wire import MappingRecord, MapReply, MapReplyAction
from lispstack.wire.control import decode_control
from lispstack.wire.ecm import Ecm

PETRS = """
[[petrs]]
address = "10.0.3.3"
priority = 1
weight = 100
"""


def test_petr_decapsulates_and_forwards_natively() -> None:
    counters = Counters()
    petr = Petr(counters, DropRecorder(counters))
    inner = icmp("192.168.1.1", "4.2.2.2")
    payload = data_header(0x123456, 1, 0) + inner
    assert petr.handle_data(datagram(payload, "10.0.1.1", 61000, "10.0.3.3", 4341), 0.0) == [
        ForwardNatively(inner)
    ]
    dropped = petr.handle_data(datagram(b"\x80", "10.0.1.1", 61000, "10.0.3.3", 4341), 0.0)
    assert not any(isinstance(a, ForwardNatively) for a in dropped)
    assert counters.get("petr.forwarded") == 1 and counters.get("drop.petr-malformed") == 1


def test_petr_drops_and_counts_a_non_zero_instance_id() -> None:
    """Its native routing is instance-id 0's domain: a tenant's packet must not leave there."""
    counters = Counters()
    petr = Petr(counters, DropRecorder(counters))
    payload = data_header(0x123456, 1, 100) + icmp("10.1.0.2", "4.2.2.2")
    for _ in range(2):
        actions = petr.handle_data(datagram(payload, "10.0.1.1", 61000, "10.0.3.3", 4341), 0.0)
        assert not any(isinstance(a, ForwardNatively) for a in actions)
    assert counters.get("drop.petr-instance-id") == 2 and counters.get("petr.forwarded") == 0
    assert not [k for k in counters.snapshot() if k.startswith("iid.")]


def test_itr_sends_natively_forward_traffic_to_the_petr() -> None:
    _, itr, counters = build_xtr(lisp1_config(extra=PETRS))
    packet = icmp("192.168.1.1", "4.2.2.2")
    (request,) = [a for a in itr.handle_tun(packet, 0.0) if isinstance(a, SendDatagram)]
    ecm = decode_control(request.payload)
    assert isinstance(ecm, Ecm)
    negative = MappingRecord(
        eid=IPv4Address("0.0.0.0"),
        eid_mask_len=1,
        ttl=15,
        action=MapReplyAction.NATIVELY_FORWARD,
        authoritative=True,
    )
    reply = MapReply(nonce=ecm.message.nonce, records=(negative,))
    released = itr.handle_control(
        reply, datagram(reply.encode(), "10.0.1.254", 4342, "10.0.1.1", 4342), 0.1
    )
    later = itr.handle_tun(packet, 0.2)
    for actions in (released, later):
        assert not any(isinstance(a, ForwardNatively | InstallNativeRoute) for a in actions)
        (sent,) = [a for a in actions if isinstance(a, SendDatagram)]
        assert str(sent.destination) == "10.0.3.3:4341"
        assert decapsulate(sent.payload).inner == packet
    assert counters.get("encap.to-petr") == 2


def test_an_etr_that_is_also_a_petr_forwards_what_is_for_no_eid_of_its_own() -> None:
    """The ETR takes every LISP data packet on a node with both roles: a packet for a
    non-LISP destination is the PETR's (as the kernel plane does), not a drop."""
    config = parse_config(
        LISP1.replace("lisp1", "xpetr")
        .replace('roles = ["itr", "etr"]', 'roles = ["itr", "etr", "petr"]')
        .replace("ALGO", "hmac-sha-256")
        .replace("PROXY", "false"),
        "xpetr.toml",
    )
    node = build_node(config, random.Random(1))
    to_site = icmp("192.168.2.1", "192.168.1.1")
    to_internet = icmp("192.168.2.1", "4.2.2.2")
    for inner, wanted in (
        (to_site, WriteToTun(to_site, 0)),
        (to_internet, ForwardNatively(to_internet)),
    ):
        payload = data_header(0x123456, 1, 0) + inner
        actions = node.handle(datagram(payload, "10.0.2.2", 61000, "10.0.1.1", 4341), 0.0)
        assert wanted in actions
    assert node.counters.get("petr.forwarded") == 1 and node.counters.get("decap.packets") == 1
    assert node.counters.get("drop.decap-not-our-eid") == 0
