"""The Map-Resolver's fast path answers exactly as the general path does, and counts the same."""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv6Address

from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import DatagramReceived, Endpoint, SendDatagram
from lispstack.core.map_server import MapServer
from lispstack.core.node import Node
from lispstack.core.resolver_fast_path import ResolverFastPath
from lispstack.io.perf import templates
from lispstack.wire import Ecm, EidRecord, Locator, MappingRecord, MapRegister, MapRequest

CONFIG = """
[node]
name = "ms"
roles = ["map-server", "map-resolver"]

[[sites]]
name = "a"
auth-key = "key-a"
eid-prefixes = ["192.168.1.0/24"]

[[sites]]
name = "b"
auth-key = "key-b"
eid-prefixes = ["192.168.2.0/24"]
accept-more-specifics = true
"""
LOCAL = Endpoint(IPv4Address("10.0.0.254"), 4342)
ITR = IPv4Address("10.0.1.1")


def _nodes() -> tuple[Node, Node, ResolverFastPath]:
    config = parse_config(CONFIG, "ms.toml")
    fast = build_node(config, random.Random(1))
    map_server = fast.roles[0]
    assert isinstance(map_server, MapServer)
    fast_path = ResolverFastPath(fast.handle_control, map_server.registrations, fast.counters)
    fast.use_control_fast_path(fast_path.handle)
    general = build_node(config, random.Random(1))
    general.use_control_fast_path(general.handle_control)
    return fast, general, fast_path


def _register(node: Node, eid: str, ttl: int, nonce: int, proxy: bool) -> None:
    record = MappingRecord(
        eid=IPv4Address(eid),
        eid_mask_len=24,
        ttl=ttl,
        locators=(Locator(address=IPv4Address("10.0.2.2")),),
    )
    _, raw = MapRegister(nonce=nonce, records=(record,), proxy_reply=proxy).signed(b"key-b")
    node.handle(DatagramReceived(raw, Endpoint(IPv4Address("10.0.2.2"), 4342), LOCAL), 0.0)


def _requests() -> list[bytes]:
    common = templates(
        [IPv4Address(a) for a in ("4.2.2.2", "192.168.1.9", "192.168.2.9", "4.2.2.2")], ITR, 5000
    )
    unusual = Ecm(
        source=IPv6Address("2001:db8::1"),
        destination=IPv6Address("2001:db8::2"),
        source_port=5000,
        message=MapRequest(
            nonce=3,
            itr_rlocs=(ITR,),
            records=(EidRecord(eid=IPv4Address("4.2.2.2"), eid_mask_len=32),),
        ),
    )
    return [*common, unusual.encode(), common[0][:-1], b"\x80" + bytes(70)]


def _answers(node: Node, requests: list[bytes], now: float) -> list[tuple[bytes, str]]:
    out = []
    for nonce, request in enumerate(requests):
        patched = bytearray(request)
        if len(patched) > 44:
            patched[36:44] = (nonce + 1).to_bytes(8, "big")
        for action in node.handle(
            DatagramReceived(bytes(patched), Endpoint(ITR, 5000), LOCAL), now
        ):
            if isinstance(action, SendDatagram):
                out.append((action.payload, str(action.destination)))
    return out


def test_fast_and_general_paths_agree() -> None:
    fast, general, fast_path = _nodes()
    requests = _requests()
    for node in (fast, general):
        _register(node, "192.168.2.0", 3, 1, proxy=True)
    for now in (1.0, 2.0):  # the second round is answered from the cache
        assert _answers(fast, requests, now) == _answers(general, requests, now)
    for node in (fast, general):  # a change of registration: the cache must not answer
        _register(node, "192.168.2.0", 0, 2, proxy=True)
    assert _answers(fast, requests, 3.0) == _answers(general, requests, 3.0)
    for node in (fast, general):
        _register(node, "192.168.2.0", 3, 3, proxy=False)  # now forwarded to the ETR
    assert _answers(fast, requests, 4.0) == _answers(general, requests, 4.0)
    assert fast.counters.snapshot() == general.counters.snapshot()
    assert fast.counters.get("reply.proxy") == 2
    assert fast.counters.get("forward.to-etr") == 1
    # Repeats within one registration state: 1 + 4 (second round) + 1 + 1.
    assert fast_path.hits == 7
