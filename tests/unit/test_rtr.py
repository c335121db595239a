"""The RTR role, fed datagrams directly (no sockets): relay, NAT table, drops, expiry."""

from __future__ import annotations

import random
from ipaddress import IPv4Address

import pytest

from helpers.nat_sim import RTR_CONFIG
from helpers.xtr_fixtures import icmp
from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.encapsulation import data_header
from lispstack.core.events import Action, DatagramReceived, Endpoint, SendDatagram, TimerFired
from lispstack.core.itr import Itr
from lispstack.core.nat_messages import control_in_data, register_via_rtr, with_rtr_locators
from lispstack.core.node import Node
from lispstack.wire import (
    EidRecord,
    Locator,
    MapNotify,
    MappingRecord,
    MapRegister,
    MapRequest,
    XtrId,
    decode_control,
)
from lispstack.wire.ecm import Ecm

RTR = IPv4Address("198.51.100.1")
MS = IPv4Address("198.51.100.254")
PRIVATE = IPv4Address("10.1.0.2")
TRANSLATED = Endpoint(IPv4Address("203.0.113.1"), 40001)
KEY = b"natted-key"


def _rtr() -> Node:
    return build_node(parse_config(RTR_CONFIG, "rtr.toml"), random.Random(3), [RTR])


def _register(nonce: int = 7, ttl: int = 3, *, xtr_id: bool = True, notify: bool = True) -> bytes:
    record = MappingRecord(
        eid=IPv4Address("192.168.10.0"),
        eid_mask_len=24,
        ttl=ttl,
        locators=(Locator(address=PRIVATE),),
    )
    register, _ = MapRegister(
        nonce=nonce,
        records=(with_rtr_locators(record, (RTR,)),),
        proxy_reply=True,
        want_map_notify=notify,
        xtr_id=XtrId(0xAB, 7) if xtr_id else None,
    ).signed(KEY)
    return register_via_rtr(register, PRIVATE, RTR, MS).payload


def _from(
    node: Node, payload: bytes, source: Endpoint, port: int = 4342, now: float = 0.0
) -> list[Action]:
    return node.handle(DatagramReceived(payload, source, Endpoint(RTR, port)), now)


def _notify(nonce: int = 7) -> bytes:
    return MapNotify(nonce=nonce, records=()).encode()


def _sends(actions: list[Action]) -> list[SendDatagram]:
    return [a for a in actions if isinstance(a, SendDatagram)]


def test_map_register_goes_on_to_the_map_server_as_signed() -> None:
    node = _rtr()
    ecm = _register()
    (send,) = _sends(_from(node, ecm, TRANSLATED))
    assert send.destination == Endpoint(MS, 4342) and send.source_port == 4342
    inner = decode_control(ecm)
    assert isinstance(inner, Ecm)
    assert send.payload == inner.message.encode()
    assert node.show("nat", None, 0.0) == []  # nothing until the Map-Server confirms


def test_map_notify_confirms_and_goes_to_the_xtr_through_the_nat() -> None:
    node = _rtr()
    _from(node, _register(), TRANSLATED)
    (send,) = _sends(_from(node, _notify(), Endpoint(MS, 4342), now=1.0))
    assert send.destination == TRANSLATED and send.source_port == 4342
    assert control_in_data(send.payload[8:], (PRIVATE,)) == _notify()
    (entry,) = node.show("nat", None, 1.0)  # type: ignore[misc]
    assert entry["translated"] == str(TRANSLATED) and entry["private_rloc"] == str(PRIVATE)
    assert entry["eid_prefixes"] == ["192.168.10.0/24"] and entry["expires_in_s"] == 180.0
    # Data for the xTR's EIDs now goes through the NAT, from port 4342.
    packet = data_header(1, 1) + icmp("192.168.20.1", "192.168.10.1")
    (data,) = _sends(_from(node, packet, Endpoint(IPv4Address("10.0.2.2"), 50000), 4341, 2.0))
    assert data.destination == TRANSLATED and data.source_port == 4342
    assert data.payload[8:] == icmp("192.168.20.1", "192.168.10.1")
    # Until the entry expires.
    node.handle(TimerFired(), 181.0)
    assert node.show("nat", None, 181.0) == []
    assert node.counters.get("rtr.nat-entries.expired") == 1


def test_deregistration_takes_the_entry_out() -> None:
    node = _rtr()
    _from(node, _register(1), TRANSLATED)
    _from(node, _notify(1), Endpoint(MS, 4342))
    _from(node, _register(2, ttl=0), TRANSLATED)
    _from(node, _notify(2), Endpoint(MS, 4342))
    assert node.show("nat", None, 0.0) == []


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (_register(xtr_id=False), "rtr-register-without-xtr-id"),
        (_register(notify=False), "rtr-register-without-map-notify"),
        (
            Ecm(
                source=PRIVATE,
                destination=MS,
                source_port=4342,
                message=MapRequest(
                    nonce=1,
                    itr_rlocs=(PRIVATE,),
                    records=(EidRecord(eid=IPv4Address("192.168.20.1"), eid_mask_len=32),),
                ),
            ).encode(),
            "rtr-ecm-not-map-register",
        ),
        (_notify(99), "rtr-map-notify-unknown-nonce"),
    ],
)
def test_bad_messages_are_counted_drops(payload: bytes, reason: str) -> None:
    node = _rtr()
    assert _sends(_from(node, payload, TRANSLATED)) == []
    assert node.counters.get(f"drop.{reason}") == 1


def test_a_mapping_naming_the_rtr_itself_is_not_looped() -> None:
    node = _rtr()
    itr = node.roles[1]
    assert isinstance(itr, Itr)
    record = MappingRecord(
        eid=IPv4Address("192.168.10.0"), eid_mask_len=24, ttl=3, locators=(Locator(address=RTR),)
    )
    itr.install_mapping(record, 0.0, "test")
    packet = data_header(1, 1) + icmp("192.168.20.1", "192.168.10.1")
    assert _sends(_from(node, packet, Endpoint(IPv4Address("10.0.2.2"), 50000), 4341)) == []
    assert node.counters.get("drop.rtr-loop") == 1


def test_malformed_data_is_a_counted_drop() -> None:
    node = _rtr()
    assert _from(node, b"\x00\x01", TRANSLATED, 4341) is not None
    assert node.counters.get("drop.decap-malformed") == 1
