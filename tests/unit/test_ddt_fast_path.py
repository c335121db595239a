"""The DDT hot paths (core/ddt_fast_path.py on the DDT Map-Resolver, the DDT request in
core/resolver_fast_path.py on the Map-Server) send exactly what the general paths send,
and count the same."""

from __future__ import annotations

import random
from ipaddress import IPv4Address

from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import DatagramReceived, Endpoint, SendDatagram
from lispstack.core.node import Node
from lispstack.io.perf import templates
from lispstack.wire import Locator, MappingRecord, MapReferral, MapRegister, decode_control
from lispstack.wire.ecm import with_ddt_flag
from lispstack.wire.map_referral import ReferralAction, ReferralRecord

ROOT, MS, MR, ITR = (IPv4Address(a) for a in ("10.9.0.1", "10.9.0.3", "10.9.0.5", "10.0.1.1"))
MS_CONFIG = """[node]
name = "ms"
roles = ["map-server", "map-resolver"]
[[sites]]
name = "b"
auth-key = "key-b"
eid-prefixes = ["10.0.0.0/16"]
"""
MR_CONFIG = f"""[node]
name = "mr"
roles = ["map-resolver"]
[[ddt-roots]]
address = "{ROOT}"
"""
OTHER = IPv4Address("10.9.9.9")
EIDS = [IPv4Address(f"10.0.{i}.{i}") for i in range(1, 6)]


def _pair(text: str) -> tuple[Node, Node]:
    """The node as `lispstack run` builds it, and the same with the general path only."""
    config = parse_config(text, "node.toml")
    general = build_node(config, random.Random(1))
    general.use_control_fast_path(general.handle_control)
    return build_node(config, random.Random(1)), general


def _sent(actions: list[object]) -> list[tuple[bytes, Endpoint]]:
    return [(a.payload, a.destination) for a in actions if isinstance(a, SendDatagram)]


def _registered(node: Node) -> Node:
    record = MappingRecord(
        eid=IPv4Address("10.0.0.0"), eid_mask_len=16, locators=(Locator(address=ITR),)
    )
    _, raw = MapRegister(nonce=1, records=(record,), proxy_reply=True).signed(b"key-b")
    node.handle(DatagramReceived(raw, Endpoint(ITR, 4342), Endpoint(MS, 4342)), 0.0)
    return node


def _requests(nonce: int) -> list[bytes]:
    out = []
    for number, request in enumerate(templates(EIDS, ITR, 40000)):
        raw = bytearray(request)
        raw[36:44] = (nonce + number).to_bytes(8, "big")
        out.append(bytes(raw))
    return out


def test_the_map_server_answers_ddt_requests_from_its_cache_as_the_general_path() -> None:
    fast, general = (_registered(n) for n in _pair(MS_CONFIG))
    for round_ in range(3):  # the first round is learnt, the next ones answered from bytes
        for request in _requests(100 * round_):
            event = DatagramReceived(
                with_ddt_flag(request), Endpoint(MR, 50000), Endpoint(MS, 4342)
            )
            assert _sent(fast.handle(event, 1.0)) == _sent(general.handle(event, 1.0))
    ddt = with_ddt_flag(_requests(900)[0])
    assert fast.answer_ddt_cached is not None
    shortcut = fast.answer_ddt_cached(ddt, 1.0)
    event = DatagramReceived(ddt, Endpoint(MR, 50000), Endpoint(MS, 4342))
    (referral, _), (reply, to_itr) = _sent(general.handle(event, 1.0))
    assert shortcut == (referral, reply, ITR.packed, 40000) and to_itr == Endpoint(ITR, 40000)
    ack = decode_control(referral)
    assert isinstance(ack, MapReferral) and ack.records[0].action is ReferralAction.MS_ACK
    assert fast.counters.snapshot() == general.counters.snapshot()


def test_the_ddt_map_resolver_forwards_from_its_cache_as_the_general_path() -> None:
    nodes = _pair(MR_CONFIG)
    for nonce, request in enumerate(_requests(1), 1):
        first = DatagramReceived(request, Endpoint(ITR, 40000), Endpoint(MR, 4342))
        outputs = [_sent(node.handle(first, 1.0)) for node in nodes]
        assert outputs[0] == outputs[1]
        ((sent, to),) = outputs[0]
        assert sent == with_ddt_flag(request)
        if to.address == ROOT:  # the first: learn 10.0.0.0/16 from the root
            answer = MapReferral(nonce=nonce, records=(_ms_referral("10.0.0.0", 16, MS),)).encode()
            source = Endpoint(ROOT, 4342)
        else:
            assert to.address == MS
            answer = ms_ack(nonce, "10.0.0.0", 16)
            source = Endpoint(MS, 4342)
        event = DatagramReceived(answer, source, Endpoint(MR, 4342))
        assert _sent(nodes[0].handle(event, 1.0)) == _sent(nodes[1].handle(event, 1.0))
    fast, general = nodes
    assert fast.counters.snapshot() == general.counters.snapshot()
    assert fast.counters.get("ddt.ms-ack") == len(EIDS) - 1  # the first still waits for MS
    # An MS-ACK for another prefix than the EID's (the walk restarts at the root), or from
    # a node not asked: taken alike by both paths.
    request = DatagramReceived(_requests(50)[0], Endpoint(ITR, 40000), Endpoint(MR, 4342))
    for node in nodes:
        node.handle(request, 2.0)
    for answer, source in ((ms_ack(50, "10.1.0.0", 16), MS), (ms_ack(50, "10.0.0.0", 16), OTHER)):
        event = DatagramReceived(answer, Endpoint(source, 4342), Endpoint(MR, 4342))
        assert _sent(fast.handle(event, 2.0)) == _sent(general.handle(event, 2.0))
    assert fast.counters.snapshot() == general.counters.snapshot()
    assert fast.counters.get("ddt.ms-ack") == len(EIDS) - 1  # the first still waits for MS


def _ms_referral(eid: str, length: int, to: IPv4Address) -> ReferralRecord:
    return ReferralRecord(
        eid=IPv4Address(eid),
        eid_mask_len=length,
        action=ReferralAction.MS_REFERRAL,
        authoritative=True,
        referrals=(Locator(address=to),),
    )


def ms_ack(nonce: int, eid: str, length: int) -> bytes:
    record = ReferralRecord(
        eid=IPv4Address(eid),
        eid_mask_len=length,
        action=ReferralAction.MS_ACK,
        authoritative=True,
        incomplete=True,
    )
    return MapReferral(nonce=nonce, records=(record,)).encode()
