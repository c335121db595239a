"""An xTR's NAT discovery (core.nat_traversal), fed Info-Replies directly on a virtual clock."""

from __future__ import annotations

import random
from ipaddress import IPv4Address

from helpers.nat_sim import MS, NATTED, RTR, xtr_config
from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import DatagramReceived, Endpoint, SendDatagram, TimerFired
from lispstack.core.node import Node
from lispstack.wire import AlgorithmId, decode_control
from lispstack.wire.address import NO_ADDRESS, NatTraversal
from lispstack.wire.auth import sign_encoded
from lispstack.wire.info import InfoReply, InfoRequest

KEY = b"natted-key"
NAT_PUBLIC = IPv4Address("203.0.113.1")


def _xtr() -> tuple[Node, InfoRequest]:
    config = parse_config(xtr_config("natted", NATTED, "192.168.10.0/24", "natted-key"), "x")
    node = build_node(config, random.Random(2))
    sent = [a for a in node.handle(TimerFired(), 0.0) if isinstance(a, SendDatagram)]
    (info,) = [a for a in sent if a.payload[0] >> 4 == 7]
    assert info.destination == Endpoint(MS, 4342) and info.source_address == NATTED
    request = decode_control(info.payload)
    assert isinstance(request, InfoRequest)
    assert request.algorithm is AlgorithmId.HMAC_SHA_256_128
    assert request.eid == IPv4Address("192.168.10.0") and request.eid_mask_len == 24
    return node, request


def _reply(
    request: InfoRequest, global_rloc: IPv4Address, key: bytes = KEY, port: int = 4342
) -> bytes:
    reply = InfoReply(
        nonce=request.nonce,
        key_id=0,
        algorithm=AlgorithmId.HMAC_SHA_256_128,
        ttl=1440,
        eid=request.eid,
        eid_mask_len=request.eid_mask_len,
        nat=NatTraversal(
            ms_udp_port=4342,
            etr_udp_port=port,
            global_etr_rloc=global_rloc,
            ms_rloc=MS,
            private_etr_rloc=NO_ADDRESS,
            rtr_rlocs=(RTR,),
        ),
    )
    return sign_encoded(reply.encode(), reply.algorithm, key)


def _deliver(node: Node, payload: bytes, now: float = 0.5) -> None:
    node.handle(DatagramReceived(payload, Endpoint(MS, 4342), Endpoint(NATTED, 4342)), now)


def _view(node: Node) -> dict[str, object]:
    (view,) = node.show("nat", None, 1.0)  # type: ignore[misc]
    assert isinstance(view, dict)
    return view


def test_reply_from_behind_a_nat_switches_to_the_rtr_and_registers_again_at_once() -> None:
    node, request = _xtr()
    _deliver(node, _reply(request, NAT_PUBLIC, port=61000))
    view = _view(node)
    assert view["behind_nat"] is True and view["global_port"] == 61000
    assert node.next_deadline() == 0.5  # the Map-Register through the RTR leaves now
    (register,) = [a for a in node.handle(TimerFired(), 0.5) if isinstance(a, SendDatagram)]
    assert register.destination == Endpoint(RTR, 4342) and register.source_port == 4341
    cache = node.show("map-cache", None, 0.5)
    assert isinstance(cache, list) and cache[0]["eid"] == "0.0.0.0/0"
    assert [r["address"] for r in cache[0]["rlocs"]] == [str(RTR)]


def test_reply_showing_our_own_address_changes_nothing() -> None:
    node, request = _xtr()
    _deliver(node, _reply(request, NATTED))
    assert _view(node)["behind_nat"] is False
    assert node.show("map-cache", None, 0.5) == []
    assert node.counters.get("in.info-reply.accepted") == 1


def test_same_address_but_another_port_is_a_nat_too() -> None:
    node, request = _xtr()
    _deliver(node, _reply(request, NATTED, port=50000))
    assert _view(node)["behind_nat"] is True


def test_wrong_key_and_unknown_nonce_are_counted_drops() -> None:
    node, request = _xtr()
    _deliver(node, _reply(request, NAT_PUBLIC, key=b"not-the-key"))
    assert node.counters.get("drop.info-reply-bad-auth") == 1
    other = InfoRequest(nonce=request.nonce ^ 1, eid=request.eid, eid_mask_len=24)
    _deliver(node, _reply(other, NAT_PUBLIC))
    assert node.counters.get("drop.info-reply-unknown-nonce") == 1
    assert _view(node)["behind_nat"] is False


def test_unanswered_info_requests_are_retried_with_backoff() -> None:
    node, _ = _xtr()
    times = []
    now = 0.0
    for _ in range(4):
        deadline = node.next_deadline()
        assert deadline is not None
        now = deadline
        if any(
            a.payload[0] >> 4 == 7
            for a in node.handle(TimerFired(), now)
            if isinstance(a, SendDatagram)
        ):
            times.append(now)
    assert times[:3] == [1.0, 3.0, 7.0]


def test_a_reload_asks_a_new_map_server_at_once() -> None:
    node, request = _xtr()
    _deliver(node, _reply(request, NAT_PUBLIC))
    node.handle(TimerFired(), 0.5)
    text = xtr_config("natted", NATTED, "192.168.10.0/24", "natted-key")
    text += '\n[[map-servers]]\naddress = "198.51.100.253"\nauth-key = "other"\n'
    node.reconfigure(parse_config(text, "x"), 2.0)
    assert node.next_deadline() == 2.0
    sent = [a for a in node.handle(TimerFired(), 2.0) if isinstance(a, SendDatagram)]
    infos = [a.destination.address for a in sent if a.payload[0] >> 4 == 7]
    assert infos == [IPv4Address("198.51.100.253")]
    assert len(node.show("nat", None, 2.0)) == 2  # type: ignore[arg-type]
