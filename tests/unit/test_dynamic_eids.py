"""core.dynamic_eids on a virtual clock, and the ETR's checks of a move notice."""

from __future__ import annotations

from ipaddress import ip_address

from helpers.xtr_fixtures import build_xtr, datagram, icmp
from lispstack.config import parse_config
from lispstack.core.dynamic_eids import DynamicEids, Learned
from lispstack.core.encapsulation import data_header
from lispstack.core.events import LocalRlocsChanged, SendDatagram, WriteToTun
from lispstack.core.local_eids import LocalEids
from lispstack.wire.control import decode_control
from lispstack.wire.map_notify import MapNotify
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import Locator, MappingRecord

CONFIG = """
[node]
name = "a"
roles = ["itr", "etr"]
[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{ address = "10.0.1.1" }]
dynamic = true
dynamic-timeout = 10
dynamic-limit = 2
[[database-mappings]]
eid-prefix = "2001:db8:1::/64"
rlocs = [{ address = "10.0.1.1" }]
dynamic = true
dynamic-timeout = 100
[[database-mappings]]
eid-prefix = "192.168.9.0/24"
rlocs = [{ address = "10.0.1.1" }]
[[map-servers]]
address = "10.0.1.254"
auth-key = "secret"
[[map-resolvers]]
address = "10.0.1.254"
"""


def table() -> DynamicEids:
    return DynamicEids(LocalEids(parse_config(CONFIG, "a.toml").database_mappings).prefixes)


def v4(text: str) -> int:
    return int(ip_address(text))


def test_only_dynamic_prefixes_learn_hosts_and_host_prefixes_carry_the_rlocs() -> None:
    eids = table()
    assert eids.parent_of(0, 4, v4("192.168.9.1")) is None
    learned, entry = eids.learn(0, 4, v4("192.168.1.5"), 1.0)
    assert learned is Learned.NEW
    record = entry.host.record(3)
    assert record.eid_text == "192.168.1.5/32"
    assert [str(loc.address) for loc in record.locators] == ["10.0.1.1"]
    learned, entry = eids.learn(0, 6, v4("2001:db8:1::7"), 1.0)
    assert learned is Learned.NEW and entry.host.record(3).eid_text == "2001:db8:1::7/128"


def test_refresh_idle_timeout_per_prefix_and_deadline() -> None:
    eids = table()
    eids.learn(0, 4, v4("192.168.1.5"), 0.0)
    eids.learn(0, 4, v4("192.168.1.6"), 2.0)
    eids.learn(0, 6, v4("2001:db8:1::7"), 0.0)
    assert eids.learn(0, 4, v4("192.168.1.5"), 5.0)[0] is Learned.KNOWN
    assert eids.next_deadline() == 12.0  # .6, seen at 2 s, least recently seen
    assert eids.expire(11.9) == []
    assert [e.host.record(0).eid_text for e in eids.expire(12.0)] == ["192.168.1.6/32"]
    assert [e.host.record(0).eid_text for e in eids.expire(15.0)] == ["192.168.1.5/32"]
    assert len(eids) == 1 and eids.next_deadline() == 100.0


def test_the_limit_refuses_new_hosts_until_one_leaves() -> None:
    eids = table()
    eids.learn(0, 4, v4("192.168.1.1"), 0.0)
    eids.learn(0, 4, v4("192.168.1.2"), 0.0)
    assert eids.learn(0, 4, v4("192.168.1.3"), 0.0)[0] is Learned.FULL
    assert eids.forget(0, 4, v4("192.168.1.1")) is not None
    assert eids.forget(0, 4, v4("192.168.1.1")) is None
    assert eids.learn(0, 4, v4("192.168.1.3"), 0.0)[0] is Learned.NEW
    assert len(eids) == 2


def test_a_reload_keeps_the_hosts_still_inside_a_dynamic_prefix() -> None:
    eids = table()
    eids.learn(0, 4, v4("192.168.1.5"), 0.0)
    eids.learn(0, 6, v4("2001:db8:1::7"), 0.0)
    reloaded = CONFIG.replace('"2001:db8:1::/64"', '"2001:db8:2::/64"').replace(
        'address = "10.0.1.1" }]\ndynamic = true\ndynamic-timeout = 10',
        'address = "10.0.1.2" }]\ndynamic = true\ndynamic-timeout = 10',
    )
    mappings = parse_config(reloaded, "a.toml").database_mappings
    kept = eids.with_prefixes(LocalEids(mappings).prefixes)
    assert [e.host.record(0).eid_text for e in kept] == ["192.168.1.5/32"]
    entry = kept.lookup(0, 4, v4("192.168.1.5"))
    assert entry is not None
    assert [str(loc.address) for loc in entry.host.record(0).locators] == ["10.0.1.2"]


def _notice(key: bytes, rloc: str) -> bytes:
    record = MappingRecord(
        eid=ip_address("192.168.1.5"),
        eid_mask_len=32,
        ttl=3,
        authoritative=True,
        locators=(Locator(address=ip_address(rloc)),),
    )
    return MapNotify(nonce=99, records=(record,)).signed(key)[1]


def test_a_move_notice_must_be_signed_by_our_map_server_and_name_a_host_of_ours() -> None:
    etr, _, counters = build_xtr(parse_config(CONFIG, "a.toml"))
    etr.saw_local_source(0, 4, v4("192.168.1.5"), 0.0)
    from_ms = ("10.0.1.254", 4342, "10.0.1.1", 4342)
    forged = _notice(b"wrong", "10.0.3.3")
    etr.handle_control(decode_control(forged), datagram(forged, *from_ms), 1.0)
    assert counters.get("drop.map-notify-bad-auth") == 1
    elsewhere = _notice(b"secret", "10.0.3.3")
    echo = _notice(b"secret", "10.0.1.1")  # still ours: not a move
    etr.handle_control(decode_control(echo), datagram(echo, *from_ms), 1.0)
    assert counters.get("drop.map-notify-unknown-nonce") == 1
    assert etr.dynamic.lookup(0, 4, v4("192.168.1.5")) is not None
    etr.handle_control(decode_control(elsewhere), datagram(elsewhere, *from_ms), 1.0)
    assert etr.dynamic.lookup(0, 4, v4("192.168.1.5")) is None
    assert counters.get("out.map-notify-ack") == 1


def test_traffic_for_an_absent_host_is_delivered_and_its_sender_smred_once_a_second() -> None:
    etr, _, counters = build_xtr(parse_config(CONFIG, "a.toml"))
    packet = data_header(1, 1) + icmp("192.168.2.1", "192.168.1.5")
    received = datagram(packet, "10.0.2.2", 50000, "10.0.1.1", 4341)
    first = etr.handle_data(received, 1.0)
    assert any(isinstance(a, WriteToTun) for a in first)
    (smr_out,) = [a for a in first if isinstance(a, SendDatagram)]
    assert str(smr_out.destination) == "10.0.2.2:4342"
    smr = decode_control(smr_out.payload)
    assert isinstance(smr, MapRequest) and smr.smr
    assert str(smr.source_eid) == "192.168.1.5"
    assert not [a for a in etr.handle_data(received, 1.5) if isinstance(a, SendDatagram)]
    assert [a for a in etr.handle_data(received, 2.1) if isinstance(a, SendDatagram)]
    assert counters.get("decap.dynamic-eid-absent") == 3
    # A host that is here: no SMR.
    etr.saw_local_source(0, 4, v4("192.168.1.5"), 3.0)
    assert not [a for a in etr.handle_data(received, 5.0) if isinstance(a, SendDatagram)]


def test_an_address_of_this_node_in_a_dynamic_prefix_is_never_learned() -> None:
    """The xTR's gateway address in the dynamic prefix sends too (an ICMP error for a
    host that left): it must not be registered as a host of ours."""
    etr, _, counters = build_xtr(parse_config(CONFIG, "a.toml"))
    own = frozenset(ip_address(a) for a in ("10.0.1.1", "192.168.1.1", "2001:db8:1::1"))
    etr.local_rlocs_changed(LocalRlocsChanged(usable=frozenset(), held=own), 0.5)
    assert etr.saw_local_source(0, 4, v4("192.168.1.1"), 1.0) == []
    assert etr.saw_local_source(0, 6, int(ip_address("2001:db8:1::1")), 1.0) == []
    assert counters.get("dynamic-eids.own-address") == 2
    assert list(etr.dynamic) == []
    assert [
        a for a in etr.saw_local_source(0, 4, v4("192.168.1.5"), 1.1) if isinstance(a, SendDatagram)
    ]
    assert [e.host.record(0).eid_text for e in etr.dynamic] == ["192.168.1.5/32"]
