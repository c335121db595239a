"""Proxy xTRs per instance-id: a PITR attracts and encapsulates in the instance-id of the
TUN a packet came from; a PETR hands each served instance-id to that instance's TUN."""

from __future__ import annotations

import random
from ipaddress import ip_address

import pytest

from helpers.xtr_fixtures import TENANT_INSTANCES, answer, datagram, icmp
from lispstack.config import parse_config
from lispstack.config.errors import ConfigError
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.encapsulation import data_header, decapsulate
from lispstack.core.events import Action, ForwardNatively, SendDatagram, WriteToTun
from lispstack.core.itr import Itr
from lispstack.core.petr import Petr
from lispstack.core.xtr import build_xtr_roles
from lispstack.wire.address import with_instance_id
from lispstack.wire.control import decode_control
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_request import MapRequest

PXTR = (
    """
[node]
name = "pxtr"
roles = ["pitr", "petr"]
[[map-resolvers]]
address = "10.0.0.254"
[pitr]
eid-prefixes = ["10.1.0.0/24", "[100]10.1.0.0/24", "[200]10.1.0.0/24"]
"""
    + TENANT_INSTANCES
)
EID, HOST = "10.1.0.2", "192.0.2.7"


def pxtr() -> tuple[Itr, Petr, Counters]:
    counters = Counters()
    config = parse_config(PXTR, "pxtr.toml")
    roles = build_xtr_roles(
        config, counters, DropRecorder(counters), random.Random(1), [ip_address("10.0.0.1")]
    )
    itr, petr = roles
    assert isinstance(itr, Itr) and isinstance(petr, Petr)
    return itr, petr, counters


def sends(actions: list[Action]) -> list[SendDatagram]:
    return [a for a in actions if isinstance(a, SendDatagram)]


def test_the_pitr_resolves_and_encapsulates_in_the_instance_id_of_the_tun() -> None:
    itr, _, counters = pxtr()
    for instance in (0, 100, 200):
        (request,) = sends(itr.handle_tun(icmp(HOST, EID), 0.0, instance))
        ecm = decode_control(request.payload)
        assert isinstance(ecm, Ecm) and isinstance(ecm.message, MapRequest)
        assert ecm.message.records[0].eid == with_instance_id(instance, ip_address(EID))
        rloc = f"10.0.{instance // 100 + 1}.1"
        replied = answer(itr, ecm.message, f"[{instance}]10.1.0.0/24", rloc, "10.0.0.254")
        (sent,) = sends(replied)
        assert str(sent.destination) == f"{rloc}:4341"
        assert decapsulate(sent.payload).iid == instance
    assert counters.get("pitr.packets") == 3
    assert counters.get("iid.100.encapsulated") == counters.get("iid.200.encapsulated") == 1


def test_show_forwarding_explains_a_proxied_packet_in_its_instance_id() -> None:
    itr, _, _ = pxtr()
    decision = itr.explain(f"[200]{EID} {HOST}", 0.0)
    assert (decision.iid, decision.verdict.value) == (200, "map-request")


def test_the_pitr_attracts_nothing_else_in_an_instance() -> None:
    """Towards a non-attracted destination, a tenant's packet is dropped: its domain has
    no native way out through the main table."""
    itr, _, counters = pxtr()
    actions = itr.handle_tun(icmp(HOST, "10.9.0.1"), 0.0, 100)
    assert not sends(actions) and not [a for a in actions if isinstance(a, ForwardNatively)]
    assert counters.get("drop.instance-not-eid-source") == counters.get("iid.100.dropped") == 1


def test_the_petr_delivers_each_served_instance_id_into_its_domain_only() -> None:
    _, petr, counters = pxtr()
    inner = icmp(EID, HOST)

    def decapsulated(iid: int) -> list[Action]:
        encapsulated = datagram(data_header(7, 1, iid=iid) + inner, "10.0.2.1", 5, "10.0.0.1", 4341)
        return petr.handle_data(encapsulated, 0.0)

    assert decapsulated(0) == [ForwardNatively(inner)]
    assert decapsulated(100) == [WriteToTun(inner, 100)]
    assert decapsulated(200) == [WriteToTun(inner, 200)]
    for _ in range(2):  # unserved: not handed to any domain
        assert not [a for a in decapsulated(300) if isinstance(a, WriteToTun | ForwardNatively)]
    assert counters.get("petr.forwarded") == 3
    assert counters.get("drop.petr-instance-id") == 2
    instances = {k: v for k, v in counters.snapshot().items() if k.startswith("iid.")}
    assert instances == {"iid.0.decapsulated": 1, "iid.100.decapsulated": 1,
                         "iid.200.decapsulated": 1}  # fmt: skip


def test_a_petr_alone_may_serve_instances() -> None:
    text = '[node]\nname = "petr"\nroles = ["petr"]\n' + TENANT_INSTANCES
    assert [i.iid for i in parse_config(text, "petr.toml").instances] == [100, 200]


def test_a_pitr_prefix_in_an_instance_id_without_a_domain_is_refused() -> None:
    text = PXTR.replace('"[200]10.1.0.0/24"]', '"[300]10.1.0.0/24"]')
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "pxtr.toml")
    assert str(raised.value) == (
        "pxtr.toml: pitr.eid-prefixes[2]: instance-id 300 has no routing domain"
        " (add [[instances]] with iid = 300, its interfaces and a table)"
    )
