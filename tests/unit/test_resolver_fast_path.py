"""The Map-Resolver's fast path answers exactly as the general path does, and counts the same."""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv6Address

from hypothesis import given, settings
from hypothesis import strategies as st

from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import DatagramReceived, Endpoint, SendDatagram
from lispstack.core.map_resolver import MapResolver
from lispstack.core.node import Node
from lispstack.core.resolver_fast_path import ResolverFastPath, parse_common_request
from lispstack.io.perf import templates
from lispstack.wire import (
    NO_ADDRESS,
    Ecm,
    EidRecord,
    Locator,
    MappingRecord,
    MapRegister,
    MapRequest,
    decode_control,
)

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
    resolver = fast.roles[1]
    assert isinstance(resolver, MapResolver)
    fast_path = ResolverFastPath(fast.handle_control, resolver, fast.counters)
    fast.use_control_fast_path(fast_path.handle)
    fast.answer_cached = fast_path.answer_cached
    general = build_node(config, random.Random(1))
    general.use_control_fast_path(general.handle_control)
    general.answer_cached = None
    return fast, general, fast_path


def _register(node: Node, eid: str, ttl: int, nonce: int, proxy: bool, now: float = 0.0) -> None:
    record = MappingRecord(
        eid=IPv4Address(eid),
        eid_mask_len=24,
        ttl=ttl,
        locators=(Locator(address=IPv4Address("10.0.2.2")),),
    )
    _, raw = MapRegister(nonce=nonce, records=(record,), proxy_reply=proxy).signed(b"key-b")
    node.handle(DatagramReceived(raw, Endpoint(IPv4Address("10.0.2.2"), 4342), LOCAL), now)


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


def _with_nonces(requests: list[bytes]) -> list[bytes]:
    """Each request with its own nonce (its index + 1), where it has room for one."""
    out = []
    for nonce, request in enumerate(requests):
        patched = bytearray(request)
        if len(patched) > 44:
            patched[36:44] = (nonce + 1).to_bytes(8, "big")
        out.append(bytes(patched))
    return out


def _answers(node: Node, requests: list[bytes], now: float) -> list[tuple[bytes, str]]:
    out = []
    for request in _with_nonces(requests):
        for action in node.handle(DatagramReceived(request, Endpoint(ITR, 5000), LOCAL), now):
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


def test_no_cached_answer_outlives_the_registrations_it_used() -> None:
    fast, general, _ = _nodes()
    requests = _requests()
    for node in (fast, general):
        _register(node, "192.168.2.0", 3, 1, proxy=True)  # lives 180 s
    for now in (1.0, 2.0):
        assert _answers(fast, requests, now) == _answers(general, requests, now)
    assert fast.answer_cached is not None
    assert not any(fast.answer_cached(r, 180.0) for r in _with_nonces(requests[2:3]))
    # No timer tick since: the registration lapsed at 180 s all the same.
    assert _answers(fast, requests, 180.0) == _answers(general, requests, 180.0)
    # Registered again before a timer tick removed the lapsed registration.
    for node in (fast, general):
        _register(node, "192.168.2.0", 3, 2, proxy=True, now=181.0)
    assert _answers(fast, requests, 182.0) == _answers(general, requests, 182.0)
    assert fast.counters.snapshot() == general.counters.snapshot()
    assert fast.counters.get("reply.proxy") == 3  # at 1, 2 and 182 s
    assert fast.counters.get("reply.negative-not-registered") == 4 + 1  # site a; b at 180 s


def _common_request(eid: int, itr: int, port: int, nonce: int, source_eid: bool) -> bytes:
    request = MapRequest(
        nonce=nonce,
        itr_rlocs=(IPv4Address(itr),),
        records=(EidRecord(eid=IPv4Address(eid), eid_mask_len=32),),
        source_eid=IPv4Address(itr) if source_eid else NO_ADDRESS,
    )
    return Ecm(
        source=IPv4Address(itr), destination=IPv4Address(eid), source_port=port, message=request
    ).encode()


addresses = st.integers(min_value=0, max_value=2**32 - 1)


def _assert_parse_agrees_with_decoder(data: bytes) -> bool:
    """The fast path answers without the general decode, so every request its parse
    accepts must decode to a plain ECM Map-Request with exactly the parsed fields.
    True when the parse accepted `data`."""
    parsed = parse_common_request(data)
    if parsed is None:
        return False
    message = decode_control(data)
    assert isinstance(message, Ecm) and isinstance(message.message, MapRequest)
    assert not (message.security or message.ddt or message.to_etr or message.to_ms)
    assert message.reserved == 0
    request = message.message
    parsed_eid, parsed_itr, parsed_port, parsed_nonce = parsed
    (record,) = request.records  # its reserved bits may be set: receivers ignore them
    assert (record.eid, record.eid_mask_len) == (IPv4Address(parsed_eid), 32)
    assert request.itr_rlocs == (IPv4Address(parsed_itr),)
    assert message.source_port == parsed_port
    assert request.nonce == int.from_bytes(parsed_nonce, "big")
    flags = (request.authoritative, request.probe, request.smr, request.pitr, request.smr_invoked)
    assert not any(flags) and not (
        request.reserved_r or request.local_xtr or request.dont_map_reply
    )
    assert request.map_reply_record is None and request.xtr_id is None
    return True


def test_every_single_bit_flip_the_parse_takes_decodes_alike() -> None:
    for source_eid in (False, True):
        valid = _common_request(0x04020202, 0x0A000101, 5000, 0x0123456789ABCDEF, source_eid)
        assert _assert_parse_agrees_with_decoder(valid)
        for bit in range(len(valid) * 8):
            flipped = bytearray(valid)
            flipped[bit // 8] ^= 0x80 >> (bit % 8)
            _assert_parse_agrees_with_decoder(bytes(flipped))


@settings(max_examples=300, deadline=None)
@given(
    eid=addresses,
    itr=addresses,
    port=st.integers(min_value=0, max_value=0xFFFF),
    nonce=st.integers(min_value=0, max_value=2**64 - 1),
    source_eid=st.booleans(),
    mutations=st.lists(
        st.tuples(st.integers(min_value=0, max_value=80), st.integers(0, 255)), max_size=3
    ),
)
def test_what_the_parse_takes_the_general_decoder_takes_alike(
    eid: int,
    itr: int,
    port: int,
    nonce: int,
    source_eid: bool,
    mutations: list[tuple[int, int]],
) -> None:
    data = bytearray(_common_request(eid, itr, port, nonce, source_eid))
    for position, value in mutations:
        if position < len(data):
            data[position] = value
    accepted = _assert_parse_agrees_with_decoder(bytes(data))
    assert accepted or mutations


def test_cached_answers_from_bytes_match_handle() -> None:
    fast, general, fast_path = _nodes()
    for node in (fast, general):
        _register(node, "192.168.2.0", 3, 1, proxy=True)
    requests = _requests()
    assert fast.answer_cached is not None
    assert not any(fast.answer_cached(r, 2.0) for r in _with_nonces(requests))  # nothing learnt yet
    _answers(fast, requests, 1.0)
    _answers(general, requests, 1.0)
    expected = _answers(general, requests, 2.0)
    answered = []  # as the daemon does: from the cache where it can, else through handle
    for request in _with_nonces(requests):
        cached = fast.answer_cached(request, 2.0)
        if cached is not None:
            reply, rloc, port = cached
            answered.append((reply, f"{IPv4Address(rloc)}:{port}"))
        else:
            datagram = DatagramReceived(request, Endpoint(ITR, 5000), LOCAL)
            answered.extend(
                (a.payload, str(a.destination))
                for a in fast.handle(datagram, 2.0)
                if isinstance(a, SendDatagram)
            )
    assert answered == expected
    assert fast_path.hits == 1 + 4  # the repeat of 4.2.2.2 in the first round, then these
    assert fast.counters.snapshot() == general.counters.snapshot()
    for node in (fast, general):  # a change of registration: nothing is answered from the cache
        _register(node, "192.168.2.0", 0, 2, proxy=True)
    assert not any(fast.answer_cached(r, 2.0) for r in _with_nonces(requests))
