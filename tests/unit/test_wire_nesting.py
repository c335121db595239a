"""LCAFs nested inside LCAFs: bounded on decode and on construction (issue 11.1).

An LCAF may hold another LCAF. A decoder that follows the nesting without a
bound hits Python's recursion limit at about 330 levels (2.7 KB), which
raised RecursionError out of every node type.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from ipaddress import IPv4Address

import pytest

from helpers.hostile_messages import IPV4_10_0_0_1, ecm_around, lcaf, nested_map_request
from helpers.mapping_messages import LISP1, MS, SITES
from lispstack.config import parse_config
from lispstack.core.build import build_node
from lispstack.core.events import DatagramReceived, Endpoint, Trace
from lispstack.wire import (
    MAX_LCAF_DEPTH,
    Address,
    AfiList,
    AsNumber,
    EncodeError,
    ExplicitLocatorPath,
    Hop,
    InstanceId,
    NatTraversal,
    Reader,
    SourceDestKey,
    TooDeepError,
    decode_control,
)
from lispstack.wire.address import decode_address, encode_address

V4 = IPV4_10_0_0_1
IID = struct.pack("!I", 7)
WRAPPERS: dict[str, Callable[[bytes], bytes]] = {
    "afi-list": lambda inner: lcaf(1, inner),
    "as-number": lambda inner: lcaf(3, struct.pack("!I", 65000) + inner),
    "elp-hop": lambda inner: lcaf(10, struct.pack("!H", 4) + inner),
    "sdk-source": lambda inner: lcaf(12, struct.pack("!HBB", 0, 0, 32) + inner + V4),
    "sdk-dest": lambda inner: lcaf(12, struct.pack("!HBB", 0, 32, 0) + V4 + inner),
    "nat-rloc": lambda inner: lcaf(7, struct.pack("!HH", 4342, 4341) + V4 + inner + V4),
}
OPAQUE = lcaf(13, bytes.fromhex("4003000001000006"))  # its body is not decoded: depth 1


def _nested(kind: str, depth: int, innermost: bytes = V4) -> bytes:
    address = innermost
    for _ in range(depth):
        address = WRAPPERS[kind](address)
    return address


# ---------------------------------------------------------------- decoding


def test_the_issue_map_request_is_a_decode_error() -> None:
    with pytest.raises(TooDeepError) as info:
        decode_control(nested_map_request(400))
    error = info.value
    assert error.field == "source_eid.lcaf"
    assert error.offset == 12 + 8 * MAX_LCAF_DEPTH  # the first LCAF one level too deep
    assert f"{MAX_LCAF_DEPTH + 1} deep" in str(error)


def test_the_issue_map_request_inside_an_ecm_is_a_decode_error() -> None:
    with pytest.raises(TooDeepError):
        decode_control(ecm_around(nested_map_request(400)))


@pytest.mark.parametrize("kind", sorted(WRAPPERS))
@pytest.mark.parametrize(
    ("wrappers", "innermost"), [(MAX_LCAF_DEPTH, V4), (MAX_LCAF_DEPTH - 1, OPAQUE)]
)
def test_every_lcaf_kind_decodes_at_the_limit_and_round_trips(
    kind: str, wrappers: int, innermost: bytes
) -> None:
    data = _nested(kind, wrappers, innermost)
    reader = Reader(data)
    address = decode_address(reader, "eid")
    reader.expect_end("eid")
    assert encode_address(address) == data


@pytest.mark.parametrize("kind", sorted(WRAPPERS))
@pytest.mark.parametrize(
    ("wrappers", "innermost"), [(MAX_LCAF_DEPTH + 1, V4), (MAX_LCAF_DEPTH, OPAQUE)]
)
def test_every_lcaf_kind_refuses_one_level_more(kind: str, wrappers: int, innermost: bytes) -> None:
    with pytest.raises(TooDeepError):
        decode_address(Reader(_nested(kind, wrappers, innermost)), "eid")


def test_an_instance_id_counts_as_a_level() -> None:
    inside = _nested("as-number", MAX_LCAF_DEPTH - 1)
    assert isinstance(decode_address(Reader(lcaf(2, IID + inside)), "eid"), InstanceId)
    too_deep = lcaf(2, IID + WRAPPERS["as-number"](inside))
    with pytest.raises(TooDeepError):
        decode_address(Reader(too_deep), "eid")


def test_wide_lcafs_are_not_deep() -> None:
    # Many siblings at one level are bounded by the length field, not by the depth limit.
    siblings = lcaf(1, V4 * 200)
    address = decode_address(Reader(_nested("afi-list", MAX_LCAF_DEPTH - 1, siblings)), "eid")
    assert encode_address(address) == _nested("afi-list", MAX_LCAF_DEPTH - 1, siblings)


# ---------------------------------------------------------------- construction


def _deep(depth: int) -> Address:
    address: Address = IPv4Address("10.0.0.1")
    for _ in range(depth):
        address = AfiList((address,))
    return address


@pytest.mark.parametrize(
    "build",
    [
        lambda inner: AfiList((inner,)),
        lambda inner: AsNumber(1, inner),
        lambda inner: InstanceId(1, inner),
        lambda inner: ExplicitLocatorPath((Hop(inner),)),
        lambda inner: SourceDestKey(inner, 0, IPv4Address("10.0.0.2"), 32),
        lambda inner: NatTraversal(1, 2, inner, IPv4Address("10.0.0.2"), IPv4Address("10.0.0.3")),
    ],
    ids=["afi-list", "as-number", "instance-id", "elp", "sdk", "nat"],
)
def test_construction_refuses_what_the_decoder_would(build: Callable[[Address], Address]) -> None:
    encoded = encode_address(build(_deep(MAX_LCAF_DEPTH - 1)))
    assert encode_address(decode_address(Reader(encoded), "eid")) == encoded
    with pytest.raises(EncodeError, match="deep"):
        build(_deep(MAX_LCAF_DEPTH))


# ---------------------------------------------------------------- a node


def test_a_map_resolver_counts_a_drop_and_raises_nothing() -> None:
    node = build_node(parse_config(SITES, "ms.toml"), random.Random(1))
    actions = []
    for payload in (nested_map_request(400), ecm_around(nested_map_request(400))):
        actions += node.handle(DatagramReceived(payload, Endpoint(LISP1, 4342), MS), 1.0)
    assert node.counters.get("in.malformed") == 2
    assert node.counters.get("drop.malformed") == 2
    (trace,) = actions  # the second drop from the same source is not logged again
    assert isinstance(trace, Trace) and trace.fields["reason"] == "malformed"
    assert "deep" in str(trace.fields["detail"])
