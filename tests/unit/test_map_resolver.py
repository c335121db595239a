"""Map-Resolver rules (negative replies, proxy replies, forwarding), through Node.handle."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from helpers.mapping_messages import (
    ETR_PORT,
    ITR_PORT,
    KEY_A,
    KEY_B,
    LISP1,
    LISP2,
    LISP3,
    MS6,
    deliver,
    ecm_request,
    general_path_node,
    map_request,
    mapping_node,
    only_reply,
    record,
    register,
    sends,
)
from helpers.registrations import registration
from lispstack.core.events import CONTROL_PORT, Endpoint, TimerFired
from lispstack.core.map_resolver import MapResolver
from lispstack.core.map_server import MapServer
from lispstack.core.node import Node
from lispstack.core.replies import (
    NegativeReplyEncoder,
    ProxyReplyEncoder,
    encode_reply,
    negative_record,
    prefix_eid,
    proxy_record,
    proxy_ttl,
)
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.registrations import Registration
from lispstack.wire import (
    DistinguishedName,
    Ecm,
    InstanceId,
    Locator,
    MappingRecord,
    MapReplyAction,
    MapRequest,
    decode_control,
)

PROTOCOL_NOTES_SITES = """
[node]
name = "mr"
roles = ["map-server", "map-resolver"]

[[sites]]
name = "s1"
auth-key = "k"
eid-prefixes = ["10.200.1.0/24", "10.200.2.0/24", "10.201.0.0/16", "10.202.0.0/16"]
"""
SEED_SITES = """
[node]
name = "mapserver"
roles = ["map-server", "map-resolver"]

[[sites]]
name = "site-a"
auth-key = "a"
eid-prefixes = ["192.168.1.0/24"]

[[sites]]
name = "site-b"
auth-key = "b"
eid-prefixes = ["192.168.2.0/24"]
"""


@pytest.fixture
def node() -> Node:
    return mapping_node()


def _etr(node: Node, raw: bytes, now: float = 0.0, source: IPv4Address = LISP2) -> None:
    deliver(node, raw, now, source=source, port=ETR_PORT)


# ------------------------------------------------------------ negative replies


@pytest.mark.parametrize(
    ("sites", "eid", "expected"),
    [
        (PROTOCOL_NOTES_SITES, "10.50.0.1", "10.0.0.0/9"),
        (PROTOCOL_NOTES_SITES, "192.0.2.1", "128.0.0.0/1"),
        (PROTOCOL_NOTES_SITES, "10.200.0.1", "10.200.0.0/24"),
        (SEED_SITES, "4.2.2.2", "0.0.0.0/1"),
    ],
)
def test_negative_reply_outside_every_site(sites: str, eid: str, expected: str) -> None:
    node = mapping_node(sites)
    reply, send = only_reply(deliver(node, ecm_request(eid, nonce=0x77), 1.0))
    assert send.destination == Endpoint(LISP1, ITR_PORT) and send.source_port == CONTROL_PORT
    (negative,) = reply.records
    assert f"{negative.eid}/{negative.eid_mask_len}" == expected
    assert negative.ttl == 15 and negative.authoritative and not negative.locators
    assert negative.action is MapReplyAction.NATIVELY_FORWARD and reply.nonce == 0x77
    assert node.counters.get("reply.negative-no-site") == 1
    assert node.counters.get("out.map-reply") == 1


def test_negative_reply_for_a_site_with_nothing_registered(node: Node) -> None:
    reply, _ = only_reply(deliver(node, ecm_request("192.168.1.7"), 1.0))
    assert (str(reply.records[0].eid), reply.records[0].eid_mask_len) == ("192.168.1.0", 24)
    assert reply.records[0].ttl == 1 and reply.records[0].authoritative
    assert reply.records[0].action is MapReplyAction.NATIVELY_FORWARD
    # site-b accepts more-specifics: the host, not the configured prefix.
    reply, _ = only_reply(deliver(node, ecm_request("192.168.2.7"), 1.0))
    assert (str(reply.records[0].eid), reply.records[0].eid_mask_len) == ("192.168.2.7", 32)
    assert node.counters.get("reply.negative-not-registered") == 2


def test_a_registered_more_specific_leaves_the_rest_of_the_site_negative(node: Node) -> None:
    _etr(node, register((record("192.168.2.128", 25, LISP2),), KEY_B, proxy=True))
    reply, _ = only_reply(deliver(node, ecm_request("192.168.2.9"), 1.0))
    assert reply.records[0].ttl == 1 and reply.records[0].eid_mask_len == 32
    reply, _ = only_reply(deliver(node, ecm_request("192.168.2.200"), 1.0))
    assert reply.records[0].eid_mask_len == 25 and reply.records[0].locators


@pytest.mark.parametrize("build", [general_path_node, mapping_node])
def test_expired_registration_answers_negative_even_before_the_timer(
    build: Callable[[], Node],
) -> None:
    node = build()
    _etr(node, register((record("192.168.2.0", 24, LISP2),), KEY_B, proxy=True), now=0.0)
    reply, _ = only_reply(deliver(node, ecm_request("192.168.2.1"), 179.0))
    assert reply.records[0].locators
    reply, _ = only_reply(deliver(node, ecm_request("192.168.2.1"), 180.0))  # no TimerFired
    assert reply.records[0].ttl == 1 and not reply.records[0].locators
    node.handle(TimerFired(), 180.0)
    reply, _ = only_reply(deliver(node, ecm_request("192.168.2.1"), 181.0))
    assert reply.records[0].ttl == 1


def test_ipv6_and_instance_id_negative_replies(node: Node) -> None:
    reply, _ = only_reply(deliver(node, ecm_request("2001:db8:3::1"), 1.0))
    assert (str(reply.records[0].eid), reply.records[0].eid_mask_len) == ("2001:db8:3::", 48)
    reply, _ = only_reply(deliver(node, ecm_request("2001:db8:8000::1"), 1.0))
    assert (str(reply.records[0].eid), reply.records[0].eid_mask_len) == ("2001:db8:8000::", 33)
    reply, _ = only_reply(deliver(node, ecm_request("10.221.1.9", iid=200), 1.0))
    assert reply.records[0].eid == InstanceId(200, IPv4Address("10.221.1.9"))
    assert reply.records[0].ttl == 1  # site-b's [200]10.221.0.0/16, more-specifics: host
    reply, _ = only_reply(deliver(node, ecm_request("10.221.1.9", iid=201), 1.0))
    assert reply.records[0].eid == InstanceId(201, IPv4Address("0.0.0.0"))
    assert (reply.records[0].eid_mask_len, reply.records[0].ttl) == (0, 15)  # nothing in iid 201


# ------------------------------------------------------------ proxy replies and forwarding


def test_proxy_reply_content(node: Node) -> None:
    raw = register((record("192.168.2.0", 24, LISP2, priority=2, weight=50),), KEY_B, proxy=True)
    _etr(node, raw)
    reply, send = only_reply(deliver(node, ecm_request("192.168.2.1", nonce=0x99), 1.0))
    assert send.destination == Endpoint(LISP1, ITR_PORT) and send.source_port == CONTROL_PORT
    assert reply.nonce == 0x99
    (proxied,) = reply.records
    assert (str(proxied.eid), proxied.eid_mask_len) == ("192.168.2.0", 24)
    assert not proxied.authoritative and proxied.ttl == 1440
    assert proxied.action is MapReplyAction.NO_ACTION
    (locator,) = proxied.locators
    assert (locator.address, locator.priority, locator.weight) == (LISP2, 2, 50)
    assert locator.reachable and not locator.local
    assert node.counters.get("reply.proxy") == 1 and node.counters.get("out.map-reply") == 1


@pytest.mark.parametrize(("ttl", "t_bit", "expected"), [(60, False, 60), (60, True, 1440)])
def test_proxy_reply_ttl_follows_a_mapping_ttl_in_the_record(
    node: Node, ttl: int, t_bit: bool, expected: int
) -> None:
    raw = register(
        (record("192.168.2.0", 24, LISP2, ttl=ttl),), KEY_B, proxy=True, ttl_timeout=t_bit
    )
    _etr(node, raw)
    reply, _ = only_reply(deliver(node, ecm_request("192.168.2.1"), 1.0))
    assert reply.records[0].ttl == expected


def test_forwarding_keeps_the_ecm_bytes(node: Node) -> None:
    _etr(node, register((record("192.168.2.0", 24, LISP2),), KEY_B))
    ecm = ecm_request("192.168.2.1")
    (send,) = sends(deliver(node, ecm, 1.0))
    assert send.payload == ecm
    assert send.destination == Endpoint(LISP2, 4342)
    assert send.source_address is None and send.source_port == CONTROL_PORT
    assert node.counters.get("forward.to-etr") == 1 and node.counters.get("out.ecm") == 1
    assert node.counters.get("out.map-reply") == 0


def test_forwarding_skips_priority_255_and_prefers_lower_priority(node: Node) -> None:
    _etr(node, register((record("192.168.2.0", 24, LISP2, priority=255),), KEY_B, xtr_id=1))
    assert sends(deliver(node, ecm_request("192.168.2.1"), 1.0)) == []
    assert node.counters.get("drop.no-etr-rloc") == 1
    _etr(
        node,
        register((record("192.168.2.0", 24, LISP3, priority=5),), KEY_B, xtr_id=2),
        source=LISP3,
    )
    four = IPv4Address("10.0.4.4")
    _etr(
        node, register((record("192.168.2.0", 24, four, priority=1),), KEY_B, xtr_id=3), source=four
    )
    (send,) = sends(deliver(node, ecm_request("192.168.2.1"), 1.0))
    assert send.destination == Endpoint(four, 4342)


def test_plain_map_request_is_answered_at_its_source_port(node: Node) -> None:
    request = map_request("4.2.2.2", nonce=5).encode()
    reply, send = only_reply(deliver(node, request, 1.0, port=61111))
    assert send.destination == Endpoint(LISP1, 61111) and reply.nonce == 5


def test_plain_map_request_is_forwarded_inside_an_ecm(node: Node) -> None:
    _etr(node, register((record("192.168.2.0", 24, LISP2),), KEY_B))
    request = map_request("192.168.2.1", nonce=6)
    (send,) = sends(deliver(node, request.encode(), 1.0, port=61111))
    assert send.destination == Endpoint(LISP2, 4342)
    ecm = decode_control(send.payload)
    assert isinstance(ecm, Ecm) and ecm.message == request
    assert (ecm.source, ecm.destination, ecm.source_port) == (
        LISP1,
        IPv4Address("192.168.2.1"),
        61111,
    )
    assert send.payload.endswith(request.encode())


def test_reply_goes_to_an_itr_rloc_of_the_family_the_request_came_on(node: Node) -> None:
    v6 = IPv6Address("fd00::1")
    both = ecm_request("4.2.2.2", itr_rlocs=(v6, LISP1))
    _, send = only_reply(deliver(node, both, 1.0))
    assert send.destination.address == LISP1
    _, send = only_reply(deliver(node, both, 1.0, source=v6, local=MS6))
    assert send.destination.address == v6
    only_v6 = ecm_request("4.2.2.2", itr_rlocs=(v6,))
    _, send = only_reply(deliver(node, only_v6, 1.0))  # the only one there is
    assert send.destination.address == v6


def test_instance_id_proxy_reply(node: Node) -> None:
    _etr(node, register((record("10.221.1.0", 24, LISP2, iid=200),), KEY_B, proxy=True))
    reply, _ = only_reply(deliver(node, ecm_request("10.221.1.9", iid=200), 1.0))
    assert reply.records[0].eid == InstanceId(200, IPv4Address("10.221.1.0"))
    assert reply.records[0].locators[0].address == LISP2


def test_ipv6_eid_registered_and_forwarded(node: Node) -> None:
    etr6 = IPv6Address("fd00::2")
    _etr(node, register((record("2001:db8:1::", 48, etr6),), KEY_A))
    ecm = ecm_request("2001:db8:1::5")
    (send,) = sends(deliver(node, ecm, 1.0))
    assert send.payload == ecm and send.destination == Endpoint(etr6, 4342)


# ------------------------------------------------------------ what is refused


def test_ecm_around_something_else_is_dropped(node: Node) -> None:
    inner = decode_control(register((record("192.168.2.0", 24, LISP2),), KEY_B))
    assert not isinstance(inner, Ecm | MapRequest)
    ecm = Ecm(source=LISP1, destination=LISP2, source_port=4342, message=inner).encode()
    assert sends(deliver(node, ecm, 1.0)) == []
    assert node.counters.get("drop.ecm-not-map-request") == 1


def test_request_without_an_ip_itr_rloc_is_dropped(node: Node) -> None:
    request = map_request("4.2.2.2", itr_rlocs=(DistinguishedName("itr"),)).encode()
    assert sends(deliver(node, request, 1.0)) == []
    assert node.counters.get("drop.no-itr-rloc") == 1


def test_resolver_alone_answers_negative_and_takes_no_registration() -> None:
    node = mapping_node('[node]\nname = "mr"\nroles = ["map-resolver"]\n')
    assert [type(r) for r in node.roles] == [MapResolver]
    reply, _ = only_reply(deliver(node, ecm_request("192.168.1.1"), 1.0))
    assert (reply.records[0].eid_mask_len, reply.records[0].ttl) == (0, 15)  # no site at all
    assert sends(deliver(node, register((record("192.168.1.0", 24, LISP2),), b"a"), 1.0)) == []
    assert node.counters.get("drop.unexpected-map-register") == 1


def test_both_roles_share_one_map_server() -> None:
    server, resolver = mapping_node(SEED_SITES).roles
    assert isinstance(server, MapServer) and isinstance(resolver, MapResolver)
    assert resolver.map_server is server


# ------------------------------------------------------------ the negative-reply fast path


@pytest.mark.parametrize(
    "prefix",
    ["0.0.0.0/1", "10.200.0.0/24", "192.168.2.7/32", "[200]10.221.1.9/32", "2001:db8::/46", "::/0"],
)
@pytest.mark.parametrize("ttl", [1, 15])
def test_cached_negative_reply_equals_the_general_encoding(prefix: str, ttl: int) -> None:
    encoder = NegativeReplyEncoder()
    eid_prefix = EidPrefix.parse(prefix)
    for nonce in (0, 1, 0xFFFF_FFFF_FFFF_FFFF, 0x0123_4567_89AB_CDEF):
        general = encode_reply(nonce, (negative_record(eid_prefix, ttl),))
        assert encoder.encode(nonce, eid_prefix, ttl) == general
    assert len(encoder) == 1


def test_negative_reply_cache_is_bounded() -> None:
    encoder = NegativeReplyEncoder(limit=4)
    for host in range(10):
        prefix = EidPrefix.host(0, ip_address(f"10.0.0.{host}"))
        assert encoder.encode(7, prefix, 1) == encode_reply(7, (negative_record(prefix, 1),))
        assert len(encoder) <= 4


def test_resolver_replies_through_the_cache_like_the_general_path(node: Node) -> None:
    first = sends(deliver(node, ecm_request("4.2.2.2", nonce=1), 1.0))[0].payload
    second = sends(deliver(node, ecm_request("4.2.2.3", nonce=2), 1.0))[0].payload
    expected = negative_record(EidPrefix.parse("0.0.0.0/1"), 15)
    assert first == encode_reply(1, (expected,)) and second == encode_reply(2, (expected,))


def _registration(prefix: EidPrefix, rloc: str, *, ttl: int = 3) -> Registration:
    record = MappingRecord(
        eid=prefix.network.network_address,
        eid_mask_len=prefix.length,
        ttl=ttl,
        authoritative=True,
        locators=(Locator(address=ip_address(rloc), local=True, probed=True),),
    )
    return registration(prefix, rloc, site="s", record=record, proxy_reply=True)


def test_cached_proxy_reply_equals_the_general_encoding_per_generation() -> None:
    prefix = EidPrefix.parse("10.1.0.0/16")
    one = (_registration(prefix, "192.0.2.1"),)
    two = (*one, _registration(prefix, "2001:db8::2", ttl=60))
    encoder = ProxyReplyEncoder()
    for nonce in (1, 2):
        assert encoder.encode(nonce, prefix, one, 1) == encode_reply(
            nonce, (proxy_record(prefix, one, proxy_ttl(one)),)
        )
    assert len(encoder) == 1
    # The store changed (generation 2): the second ETR's RLOC and TTL are in the answer.
    merged = encode_reply(3, (proxy_record(prefix, two, proxy_ttl(two)),))
    assert proxy_ttl(two) == 60 and encoder.encode(3, prefix, two, 2) == merged
    # Same prefix and TTL, new generation (the ETR moved): encoded again, not stale bytes.
    moved = (_registration(prefix, "192.0.2.9"),)
    assert encoder.encode(4, prefix, moved, 3) == encode_reply(
        4, (proxy_record(prefix, moved, proxy_ttl(moved)),)
    )
    assert encoder.encode(4, prefix, moved, 3) != encode_reply(
        4, (proxy_record(prefix, one, proxy_ttl(one)),)
    )


def test_proxy_reply_cache_is_bounded() -> None:
    encoder = ProxyReplyEncoder(limit=4)
    for index in range(10):
        prefix = EidPrefix.parse(f"10.{index}.0.0/16")
        regs = (_registration(prefix, "192.0.2.1"),)
        encoder.encode(5, prefix, regs, 1)
        assert len(encoder) <= 4


@pytest.mark.parametrize(
    ("prefix", "locators"),
    [
        ("10.1.0.0/16", (Locator(address=ip_address("192.0.2.1"), unused_flags=5),)),
        ("[200]10.221.0.0/16", (Locator(address=ip_address("192.0.2.1"), priority=7),)),
        (
            "2001:db8:2::/48",
            (
                Locator(address=ip_address("2001:db8::2"), weight=3, reachable=False),
                Locator(address=ip_address("192.0.2.1"), local=True, m_priority=1),
                Locator(address=ip_address("2001:db8::2"), weight=9),  # a repeat: dropped
            ),
        ),
    ],
)
def test_one_registration_proxy_record_bytes_equal_the_general_encoding(
    prefix: str, locators: tuple[Locator, ...]
) -> None:
    eid_prefix = EidPrefix.parse(prefix)
    record = MappingRecord(
        eid=prefix_eid(eid_prefix), eid_mask_len=eid_prefix.length, locators=locators
    )
    registrations = (registration(eid_prefix, "x", record=record, proxy_reply=True),)
    encoder = ProxyReplyEncoder()
    expected = encode_reply(9, (proxy_record(eid_prefix, registrations, 1440),))
    for generation in (1, 2):  # encoded afresh, then from the remembered locator bytes
        assert encoder.encode(9, eid_prefix, registrations, generation) == expected
