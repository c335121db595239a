"""The Map-Server's Info-Reply (NAT traversal), driven through Node.handle (no sockets)."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from helpers.mapping_messages import KEY_A, KEY_B, MS, deliver, mapping_node, sends
from helpers.nat_messages import (
    GOLDEN_REPLY,
    LISPERS_NET_REQUEST,
    NAT_PORT,
    NAT_PUBLIC,
    RTR1,
    RTR2,
    WITH_RTRS,
    info_request,
)
from lispstack.core.events import Endpoint, SendDatagram
from lispstack.core.node import Node
from lispstack.wire import AlgorithmId, decode_control, verify_raw
from lispstack.wire.address import NO_ADDRESS, DistinguishedName
from lispstack.wire.info import InfoReply, InfoRequest


@pytest.fixture
def node() -> Node:
    return mapping_node(WITH_RTRS)


def _from_nat(node: Node, raw: bytes, now: float = 0.0) -> list[SendDatagram]:
    return sends(deliver(node, raw, now, source=NAT_PUBLIC, port=NAT_PORT, local=MS))


def test_signed_info_request_gets_the_golden_signed_info_reply(node: Node) -> None:
    (reply_send,) = _from_nat(node, info_request(KEY_A))
    assert reply_send.destination == Endpoint(NAT_PUBLIC, NAT_PORT)
    assert reply_send.source_port == 4342
    assert verify_raw(reply_send.payload, KEY_A)
    assert not verify_raw(reply_send.payload, KEY_B)
    reply = decode_control(reply_send.payload)
    assert isinstance(reply, InfoReply)
    assert reply.nonce == 0x1234 and reply.key_id == 0
    assert reply.algorithm is AlgorithmId.HMAC_SHA_256_128
    assert reply.eid == IPv4Address("192.168.1.0") and reply.eid_mask_len == 24
    nat = reply.nat
    assert (nat.global_etr_rloc, nat.etr_udp_port) == (NAT_PUBLIC, NAT_PORT)
    assert (nat.ms_rloc, nat.ms_udp_port) == (MS.address, 4342)
    assert nat.private_etr_rloc == NO_ADDRESS
    assert nat.rtr_rlocs == (RTR1, RTR2)
    assert reply_send.payload == GOLDEN_REPLY


def test_site_without_rtrs_gets_a_reply_without_rtrs() -> None:
    node = mapping_node()
    (reply_send,) = _from_nat(node, info_request(KEY_B, eid="192.168.2.0"))
    reply = decode_control(reply_send.payload)
    assert isinstance(reply, InfoReply) and reply.nat.rtr_rlocs == ()
    assert verify_raw(reply_send.payload, KEY_B)


def test_second_key_of_a_site_signs_with_sha1() -> None:
    node = mapping_node()
    raw = info_request(
        KEY_B.replace(b"secret", b"second"),
        eid="192.168.2.0",
        key_id=7,
        algorithm=AlgorithmId.HMAC_SHA_1_96,
    )
    (reply_send,) = _from_nat(node, raw)
    reply = decode_control(reply_send.payload)
    assert isinstance(reply, InfoReply)
    assert reply.key_id == 7 and reply.algorithm is AlgorithmId.HMAC_SHA_1_96
    assert verify_raw(reply_send.payload, b"site-b-second")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (info_request(b"not-the-key"), "info-auth-failure"),
        (info_request(KEY_A, key_id=3), "info-unknown-key-id"),
        (info_request(KEY_A, eid="10.99.0.0", mask=16), "info-no-site"),
        (
            info_request(b"site-b-second", eid="192.168.2.0", key_id=7),
            "info-wrong-algorithm",
        ),
    ],
)
def test_bad_info_requests_are_counted_drops(node: Node, raw: bytes, reason: str) -> None:
    assert _from_nat(node, raw) == []
    assert node.counters.snapshot()[f"drop.{reason}"] == 1
    assert node.counters.snapshot().get("out.info-reply", 0) == 0


def test_lispers_net_unauthenticated_request_learns_its_address_but_no_rtrs(node: Node) -> None:
    (reply_send,) = _from_nat(node, LISPERS_NET_REQUEST)
    reply = decode_control(reply_send.payload)
    assert isinstance(reply, InfoReply)
    assert reply.nonce == 0x3D02BA32E448A7DE
    assert reply.algorithm is AlgorithmId.NONE and reply.auth_data == b""
    assert reply.nat.global_etr_rloc == NAT_PUBLIC and reply.nat.etr_udp_port == NAT_PORT
    assert reply.nat.rtr_rlocs == ()
    assert node.counters.snapshot()["info-request.unauthenticated"] == 1
    request = decode_control(LISPERS_NET_REQUEST)
    assert isinstance(request, InfoRequest) and request.node_name == DistinguishedName("vm")


def test_wildcard_listener_sends_no_ms_rloc(node: Node) -> None:
    wildcard = Endpoint(IPv4Address("0.0.0.0"), 4342)
    actions = deliver(
        node, info_request(KEY_A), 0.0, source=NAT_PUBLIC, port=NAT_PORT, local=wildcard
    )
    (reply_send,) = sends(actions)
    reply = decode_control(reply_send.payload)
    assert isinstance(reply, InfoReply) and reply.nat.ms_rloc == NO_ADDRESS


def test_info_reply_to_a_map_server_is_a_counted_drop(node: Node) -> None:
    assert _from_nat(node, GOLDEN_REPLY) == []
    assert node.counters.snapshot()["drop.unexpected-info-reply"] == 1
