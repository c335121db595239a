"""A live reload of an ITR/ETR (Role.reconfigure): database mappings, Map-Servers,
Map-Resolvers and PETRs changed; the map-cache stays."""

from __future__ import annotations

from ipaddress import IPv4Address

from helpers.xtr_fixtures import LISP1, build_xtr, datagram, icmp
from lispstack.config import parse_config
from lispstack.config.model import NodeConfig
from lispstack.core.events import Action, SendDatagram
from lispstack.wire.control import decode_control
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_register import MapRegister
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import EidRecord, Locator, MappingRecord

TEXT = LISP1.replace("ALGO", "hmac-sha-256").replace("PROXY", "false")
SECOND_MAPPING = """
[[database-mappings]]
eid-prefix = "192.168.11.0/24"
rlocs = [{ address = "10.0.1.1" }]
"""


def _config(text: str) -> NodeConfig:
    return parse_config(text, "lisp1.toml")


def _registers(actions: list[Action]) -> list[tuple[str, list[str], int]]:
    """(Map-Server, EID prefixes, TTL) of each Map-Register sent."""
    found = []
    for action in actions:
        if isinstance(action, SendDatagram):
            message = decode_control(action.payload)
            if isinstance(message, MapRegister):
                eids = [r.eid_text for r in message.records]
                found.append((str(action.destination.address), eids, message.records[0].ttl))
    return found


def test_an_added_mapping_is_registered_at_once_and_answered() -> None:
    etr, _, _ = build_xtr(_config(TEXT))
    etr.on_timer(0.0)  # the first Map-Register
    assert etr.next_deadline() == 1.0  # a retry while no Map-Notify came
    assert etr.reconfigure(_config(TEXT + SECOND_MAPPING), 0.5) == []
    assert etr.next_deadline() == 0.5
    assert _registers(etr.on_timer(0.5)) == [
        ("10.0.1.254", ["192.168.1.0/24", "192.168.11.0/24"], 3)
    ]
    assert etr.local.lookup(0, 4, int.from_bytes(bytes([192, 168, 11, 9]), "big")) is not None


def test_a_removed_mapping_is_deregistered_and_the_rest_registered_again() -> None:
    etr, _, _ = build_xtr(_config(TEXT + SECOND_MAPPING))
    etr.on_timer(0.0)
    actions = etr.reconfigure(_config(TEXT), 5.0)
    assert _registers(actions) == [("10.0.1.254", ["192.168.11.0/24"], 0)]
    assert _registers(etr.on_timer(5.0)) == [("10.0.1.254", ["192.168.1.0/24"], 3)]


def test_a_changed_map_server_gets_the_old_one_a_deregistration() -> None:
    etr, _, _ = build_xtr(_config(TEXT))
    etr.on_timer(0.0)
    moved = TEXT.replace('address = "10.0.1.254"\nauth-key', 'address = "10.0.9.254"\nauth-key')
    actions = etr.reconfigure(_config(moved), 5.0)
    assert _registers(actions) == [("10.0.1.254", ["192.168.1.0/24"], 0)]
    assert _registers(etr.on_timer(5.0)) == [("10.0.9.254", ["192.168.1.0/24"], 3)]


def test_an_unchanged_config_sends_nothing_and_keeps_the_schedule() -> None:
    etr, _, _ = build_xtr(_config(TEXT))
    etr.on_timer(0.0)
    deadline = etr.next_deadline()
    assert etr.reconfigure(_config(TEXT), 5.0) == []
    assert etr.next_deadline() == deadline


def _request(actions: list[Action]) -> tuple[str, MapRequest]:
    (send,) = [a for a in actions if isinstance(a, SendDatagram)]
    ecm = decode_control(send.payload)
    assert isinstance(ecm, Ecm) and isinstance(ecm.message, MapRequest)
    return str(send.destination.address), ecm.message


def test_the_map_cache_stays_and_misses_go_to_the_new_map_resolver() -> None:
    _, itr, _ = build_xtr(_config(TEXT))
    resolver, request = _request(itr.handle_tun(icmp("192.168.1.1", "192.168.2.1"), 0.0))
    assert resolver == "10.0.1.254"
    record = MappingRecord(
        eid=IPv4Address("192.168.2.0"),
        eid_mask_len=24,
        ttl=1440,
        authoritative=True,
        locators=(Locator(address=request.itr_rlocs[0]),),  # any RLOC will do
    )
    payload = MapReply(nonce=request.nonce, records=(record,)).encode()
    itr.handle_control(
        decode_control(payload), datagram(payload, "10.0.2.2", 4342, "10.0.1.1", 4342), 1.0
    )
    assert len(itr.cache) == 1
    moved = TEXT.replace(
        '[[map-resolvers]]\naddress = "10.0.1.254"', '[[map-resolvers]]\naddress = "10.0.7.7"'
    )
    itr.reconfigure(_config(moved + SECOND_MAPPING), 2.0)
    assert len(itr.cache) == 1  # kept
    hit = itr.handle_tun(icmp("192.168.11.1", "192.168.2.9"), 3.0)  # from the new EID prefix
    assert [type(a).__name__ for a in hit] == ["SendDatagram"]
    assert hit[0].destination.port == 4341  # type: ignore[attr-defined]
    resolver, _ = _request(itr.handle_tun(icmp("192.168.1.1", "192.168.5.1"), 4.0))
    assert resolver == "10.0.7.7"


def test_petrs_added_take_what_has_no_mapping() -> None:
    no_resolver = TEXT.replace('[[map-resolvers]]\naddress = "10.0.1.254"\n', "")
    with_petr = no_resolver + '[[petrs]]\naddress = "10.0.8.8"\n'
    _, itr, _ = build_xtr(_config(with_petr))
    itr.reconfigure(_config(with_petr.replace("10.0.8.8", "10.0.8.9")), 0.0)
    (send,) = itr.handle_tun(icmp("192.168.1.1", "192.168.5.1"), 1.0)
    assert isinstance(send, SendDatagram) and str(send.destination.address) == "10.0.8.9"


def test_a_reload_that_changes_the_mappings_sends_smrs_to_the_itrs_seen_recently() -> None:
    etr, _, counters = build_xtr(_config(TEXT))
    etr.on_timer(0.0)
    request = MapRequest(
        nonce=5,
        itr_rlocs=(IPv4Address("10.0.2.2"),),
        source_eid=IPv4Address("192.168.2.1"),
        records=(EidRecord(eid=IPv4Address("192.168.1.1"), eid_mask_len=32),),
    )
    etr.handle_control(request, datagram(request.encode(), "10.0.2.2", 4342, "10.0.1.1", 4342), 1.0)
    assert etr.reconfigure(_config(TEXT), 2.0) == []  # nothing changed: nobody to tell
    smrs = [
        (str(a.destination), decode_control(a.payload))
        for a in etr.reconfigure(_config(TEXT + SECOND_MAPPING), 3.0)
        if isinstance(a, SendDatagram)
    ]
    assert [(where, m.smr) for where, m in smrs if isinstance(m, MapRequest)] == [
        ("10.0.2.2:4342", True),
        ("10.0.2.2:4342", True),
    ]
    assert counters.get("out.smr") == 2
