"""Info-Request / Info-Reply: R bit dispatch, NAT-traversal LCAF, lispers.net deviations."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address

import pytest

from lispstack.wire import (
    AlgorithmId,
    BadLengthError,
    BadValueError,
    DistinguishedName,
    EncodeError,
    InfoReply,
    InfoRequest,
    NatTraversal,
    decode_control,
)

REQUEST = InfoRequest(nonce=0xABC, eid=IPv4Address("192.168.1.0"), eid_mask_len=24, ttl=1440)
NAT = NatTraversal(
    ms_udp_port=4342,
    etr_udp_port=61001,
    global_etr_rloc=IPv4Address("198.51.100.7"),
    ms_rloc=IPv4Address("10.0.1.254"),
    private_etr_rloc=IPv4Address("192.168.0.2"),
)
REPLY = InfoReply(nonce=0xABC, eid=IPv4Address("192.168.1.0"), eid_mask_len=24, ttl=1440, nat=NAT)


def test_r_bit_picks_request_or_reply() -> None:
    assert REQUEST.encode()[0] == 0x70 and REPLY.encode()[0] == 0x78
    assert isinstance(decode_control(REQUEST.encode()), InfoRequest)
    decoded = decode_control(REPLY.encode())
    assert isinstance(decoded, InfoReply) and decoded == REPLY
    assert decoded.to_json()["global_etr_rloc"] == "198.51.100.7"


def test_request_ends_with_afi_zero() -> None:
    assert REQUEST.encode()[-2:] == b"\x00\x00"
    decoded = decode_control(REQUEST.encode())
    assert decoded == REQUEST and "node_name" not in decoded.to_json()


def test_request_with_other_tail_is_refused() -> None:
    bad = REQUEST.encode()[:-2] + b"\x00\x01" + IPv4Address("10.0.0.1").packed
    with pytest.raises(BadValueError) as info:
        decode_control(bad)
    assert info.value.field == "info.afi"


def test_reply_without_nat_lcaf_is_refused() -> None:
    as_reply = bytes([REQUEST.encode()[0] | 0x08]) + REQUEST.encode()[1:]
    with pytest.raises(BadValueError) as info:
        decode_control(as_reply)
    assert info.value.field == "info.nat"


def test_distinguished_name_eid_and_node_name() -> None:
    message = InfoRequest(
        nonce=1, eid=DistinguishedName("xtr-1"), eid_mask_len=0, node_name=DistinguishedName("vm")
    )
    notes: list[str] = []
    decoded = decode_control(message.encode(), notes)
    assert decoded == message
    assert decoded.to_json()["eid"] == "'xtr-1'/0" and decoded.to_json()["node_name"] == "vm"
    assert notes and "distinguished name instead of AFI 0" in notes[0]


def test_authenticated_info_request_round_trips() -> None:
    message = replace(REQUEST, algorithm=AlgorithmId.HMAC_SHA_1_96, auth_data=bytes(range(20)))
    encoded = message.encode()
    assert encoded[13:16] == b"\x01\x00\x14"
    assert decode_control(encoded) == message


@pytest.mark.parametrize(
    "changes",
    [
        {"eid_mask_len": 33},
        {"ttl": 1 << 32},
        {"reserved": 1 << 27},
        {"eid_reserved": 256},
        {"algorithm": AlgorithmId.HMAC_SHA_256_128, "auth_data": bytes(16)},
        {"nonce": -1},
    ],
)
def test_refuses_invalid_objects(changes: dict[str, object]) -> None:
    with pytest.raises(EncodeError):
        replace(REQUEST, **changes)  # type: ignore[arg-type]


def test_nat_lcaf_needs_three_addresses() -> None:
    encoded = bytearray(REPLY.encode())
    # Keep only the ports and the global RLOC, with a consistent LCAF length.
    lcaf_at = encoded.index(b"\x40\x03")
    body = bytes(encoded[lcaf_at + 8 : lcaf_at + 8 + 4 + 6])
    cut = bytes(encoded[: lcaf_at + 6]) + len(body).to_bytes(2, "big") + body
    with pytest.raises(BadLengthError) as info:
        decode_control(cut)
    assert "needs at least 3" in info.value.reason
