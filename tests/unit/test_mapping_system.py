"""Map-Server and Map-Resolver roles driven through Node.handle with an explicit clock."""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import DatagramReceived, Endpoint, SendDatagram, TimerFired
from lispstack.core.node import Node
from lispstack.mapping.negative_prefix import NegativePrefixFinder
from lispstack.mapping.prefix import EidPrefix
from lispstack.wire import (
    AlgorithmId,
    Ecm,
    EidRecord,
    InstanceId,
    Locator,
    MapNotify,
    MappingRecord,
    MapRegister,
    MapReply,
    MapReplyAction,
    MapRequest,
    XtrId,
    decode_control,
    verify_raw,
)

CONFIG = """
[node]
name = "mapserver"
roles = ["map-server", "map-resolver"]

[[sites]]
name = "site-a"
auth-key = "site-a-secret"
eid-prefixes = ["192.168.1.0/24", "2001:db8:1::/48"]

[[sites]]
name = "site-b"
auth-keys = [
    { id = 0, key = "site-b-secret" },
    { id = 7, key = "site-b-second", algorithm = "hmac-sha-1" },
]
eid-prefixes = ["192.168.2.0/24", "[200]10.221.0.0/16"]
accept-more-specifics = true
"""
MS = Endpoint(IPv4Address("10.0.1.254"), 4342)
LISP1 = IPv4Address("10.0.1.1")
LISP2 = IPv4Address("10.0.2.2")


@pytest.fixture
def node() -> Node:
    return build_node(parse_config(CONFIG, "mapserver.toml"), random.Random(1))


def _record(eid: str, mask: int, rloc: IPv4Address, iid: int = 0, ttl: int = 3) -> MappingRecord:
    address = ip_address(eid)
    return MappingRecord(
        eid=InstanceId(iid, address) if iid else address,
        eid_mask_len=mask,
        ttl=ttl,
        authoritative=True,
        locators=(Locator(address=rloc, priority=1, weight=100, local=True),),
    )


def _register(
    node: Node,
    records: tuple[MappingRecord, ...],
    key: bytes,
    *,
    now: float = 0.0,
    source: IPv4Address = LISP2,
    proxy: bool = False,
    nonce: int = 1,
    key_id: int = 0,
    algorithm: AlgorithmId = AlgorithmId.HMAC_SHA_256_128,
    ttl_timeout: bool = False,
) -> list[object]:
    _, raw = MapRegister(
        nonce=nonce,
        records=records,
        proxy_reply=proxy,
        want_map_notify=True,
        key_id=key_id,
        algorithm=algorithm,
        use_ttl_for_timeout=ttl_timeout,
        xtr_id=XtrId(source.packed[3]),
    ).signed(key)
    return list(node.handle(DatagramReceived(raw, Endpoint(source, 61000), MS), now))


def _request(node: Node, eid: str, *, now: float = 1.0, iid: int = 0) -> list[object]:
    address = ip_address(eid)
    request = MapRequest(
        nonce=0xABC,
        itr_rlocs=(LISP1,),
        records=(
            EidRecord(
                eid=InstanceId(iid, address) if iid else address, eid_mask_len=address.max_prefixlen
            ),
        ),
    )
    inner_source = LISP1 if address.version == 4 else IPv6Address("2001:db8:1::1")
    ecm = Ecm(source=inner_source, destination=address, source_port=50000, message=request)
    return list(node.handle(DatagramReceived(ecm.encode(), Endpoint(LISP1, 4342), MS), now))


def _reply(actions: list[object]) -> tuple[MapReply, SendDatagram]:
    (send,) = [a for a in actions if isinstance(a, SendDatagram)]
    reply = decode_control(send.payload)
    assert isinstance(reply, MapReply)
    return reply, send


def test_registration_is_authenticated_and_notified(node: Node) -> None:
    records = (_record("192.168.2.0", 24, LISP2),)
    actions = _register(node, records, b"site-b-secret")
    (send,) = [a for a in actions if isinstance(a, SendDatagram)]
    assert send.destination == Endpoint(LISP2, 61000)
    assert verify_raw(send.payload, b"site-b-secret")
    notify = decode_control(send.payload)
    assert isinstance(notify, MapNotify)
    assert notify.nonce == 1 and notify.records == records
    (entry,) = node.show("registrations", None, 0.0)  # type: ignore[misc]
    assert entry["eid"] == "192.168.2.0/24" and entry["site"] == "site-b"
    assert entry["registered_by"] == "10.0.2.2" and entry["proxy_reply"] is False
    assert node.counters.get("registrations.accepted") == 1


@pytest.mark.parametrize(
    ("key", "key_id", "algorithm", "reason"),
    [
        (b"wrong", 0, AlgorithmId.HMAC_SHA_256_128, "auth-failure"),
        (b"site-b-secret", 3, AlgorithmId.HMAC_SHA_256_128, "unknown-key-id"),
        (b"site-b-second", 7, AlgorithmId.HMAC_SHA_256_128, "wrong-algorithm"),
    ],
)
def test_bad_authentication_is_dropped(
    node: Node, key: bytes, key_id: int, algorithm: AlgorithmId, reason: str
) -> None:
    actions = _register(
        node, (_record("192.168.2.0", 24, LISP2),), key, key_id=key_id, algorithm=algorithm
    )
    assert not [a for a in actions if isinstance(a, SendDatagram)]
    assert node.counters.get(f"drop.{reason}") == 1
    assert node.show("registrations", None, 0.0) == []


def test_second_key_with_sha1(node: Node) -> None:
    _register(
        node,
        (_record("192.168.2.0", 24, LISP2),),
        b"site-b-second",
        key_id=7,
        algorithm=AlgorithmId.HMAC_SHA_1_96,
    )
    assert node.counters.get("registrations.accepted") == 1


def test_prefixes_outside_the_site(node: Node) -> None:
    _register(node, (_record("192.168.1.128", 25, LISP2),), b"site-a-secret")
    assert node.counters.get("drop.prefix-not-allowed") == 1
    _register(node, (_record("172.16.0.0", 16, LISP2),), b"site-a-secret")
    assert node.counters.get("drop.no-site") == 1
    _register(node, (_record("192.168.2.128", 25, LISP2),), b"site-b-secret")
    assert node.counters.get("registrations.accepted") == 1  # site-b accepts more-specifics


def test_expiry_and_ttl_zero(node: Node) -> None:
    _register(node, (_record("192.168.2.0", 24, LISP2),), b"site-b-secret", now=0.0)
    assert node.next_deadline() == 180.0
    node.handle(TimerFired(), 179.0)
    assert len(node.show("registrations", None, 0.0)) == 1  # type: ignore[arg-type]
    node.handle(TimerFired(), 180.0)
    assert node.show("registrations", None, 0.0) == []
    _register(
        node,
        (_record("192.168.2.0", 24, LISP2, ttl=10),),
        b"site-b-secret",
        now=200.0,
        nonce=2,
        ttl_timeout=True,
    )
    assert node.next_deadline() == 800.0
    _register(
        node, (_record("192.168.2.0", 24, LISP2, ttl=0),), b"site-b-secret", now=210.0, nonce=3
    )
    assert node.show("registrations", None, 0.0) == []


def test_negative_reply_for_eid_outside_every_site(node: Node) -> None:
    reply, send = _reply(_request(node, "4.2.2.2"))
    assert send.destination == Endpoint(LISP1, 50000)
    (record,) = reply.records
    assert (str(record.eid), record.eid_mask_len) == ("0.0.0.0", 1)
    assert record.ttl == 15 and record.authoritative
    assert record.action is MapReplyAction.NATIVELY_FORWARD and not record.locators
    assert reply.nonce == 0xABC


def test_negative_reply_for_site_without_registration(node: Node) -> None:
    reply, _ = _reply(_request(node, "192.168.1.7"))
    (record,) = reply.records
    assert (str(record.eid), record.eid_mask_len, record.ttl) == ("192.168.1.0", 24, 1)
    reply, _ = _reply(_request(node, "192.168.2.7"))  # accept-more-specifics: the host
    assert (str(reply.records[0].eid), reply.records[0].eid_mask_len) == ("192.168.2.7", 32)


def test_forward_to_etr_keeps_the_ecm_bytes(node: Node) -> None:
    _register(node, (_record("192.168.2.0", 24, LISP2),), b"site-b-secret")
    actions = _request(node, "192.168.2.1")
    (send,) = [a for a in actions if isinstance(a, SendDatagram)]
    assert send.destination == Endpoint(LISP2, 4342)
    forwarded = decode_control(send.payload)
    assert isinstance(forwarded, Ecm) and forwarded.message.nonce == 0xABC
    assert node.counters.get("forward.to-etr") == 1


def test_proxy_reply(node: Node) -> None:
    _register(node, (_record("192.168.2.0", 24, LISP2),), b"site-b-secret", proxy=True)
    reply, send = _reply(_request(node, "192.168.2.1"))
    (record,) = reply.records
    assert send.destination == Endpoint(LISP1, 50000)
    assert not record.authoritative and record.ttl == 1440
    assert [str(loc.address) for loc in record.locators] == ["10.0.2.2"]
    assert not record.locators[0].local


def test_two_etrs_of_one_site_merge(node: Node) -> None:
    third = IPv4Address("10.0.3.3")
    _register(node, (_record("192.168.2.0", 24, LISP2),), b"site-b-secret", proxy=True)
    _register(
        node, (_record("192.168.2.0", 24, third),), b"site-b-secret", proxy=True, source=third
    )
    reply, _ = _reply(_request(node, "192.168.2.1"))
    assert {str(loc.address) for loc in reply.records[0].locators} == {"10.0.2.2", "10.0.3.3"}


def test_instance_id_and_ipv6(node: Node) -> None:
    _register(node, (_record("10.221.1.0", 24, LISP2, iid=200),), b"site-b-secret", proxy=True)
    reply, _ = _reply(_request(node, "10.221.1.9", iid=200))
    assert reply.records[0].eid == InstanceId(200, IPv4Address("10.221.1.0"))
    reply, _ = _reply(_request(node, "10.221.1.9"))  # same address, instance 0: no site
    assert reply.records[0].ttl == 15
    reply, _ = _reply(_request(node, "2001:db8:2::1"))
    assert (str(reply.records[0].eid), reply.records[0].eid_mask_len) == ("2001:db8:2::", 47)


def test_malformed_datagrams_are_counted_drops(node: Node) -> None:
    for payload in (b"", b"\x10", b"\x80" + bytes(40), bytes(range(64))):
        node.handle(DatagramReceived(payload, Endpoint(LISP1, 4342), MS), 0.0)
    assert node.counters.get("in.malformed") == 4


@pytest.mark.parametrize(
    ("eid", "expected"),
    [("10.50.0.1", "10.0.0.0/9"), ("192.0.2.1", "128.0.0.0/1"), ("10.200.0.1", "10.200.0.0/24")],
)
def test_protocol_notes_negative_prefixes(eid: str, expected: str) -> None:
    sites = ["10.200.1.0/24", "10.200.2.0/24", "10.201.0.0/16", "10.202.0.0/16"]
    finder = NegativePrefixFinder([EidPrefix.parse(s) for s in sites])
    assert str(finder.find(0, ip_address(eid))) == expected
