"""Map-Register, Map-Notify and Map-Notify-Ack: flag positions, the xTR-ID quirk, refusals."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest

from helpers.mapping_messages import notify_of_fields
from lispstack.wire import (
    AlgorithmId,
    DecodeError,
    EncodeError,
    InstanceId,
    Locator,
    MapNotify,
    MapNotifyAck,
    MappingRecord,
    MapRegister,
    TrailingBytesError,
    XtrId,
    decode_control,
)
from lispstack.wire.auth import sign_encoded
from lispstack.wire.map_notify import notify_answering
from lispstack.wire.records import new_locator_sets

RECORD = MappingRecord(
    eid=IPv4Address("192.168.1.0"),
    eid_mask_len=24,
    locators=(Locator(address=IPv4Address("10.0.1.1")),),
)
BASE = MapRegister(nonce=1, records=(RECORD,), algorithm=AlgorithmId.NONE)


@pytest.mark.parametrize(
    ("flag", "bit"),
    [
        ("proxy_reply", 4),
        ("security", 5),
        ("eid_notify", 19),
        ("use_ttl_for_timeout", 20),
        ("merge_request", 21),
        ("rtr", 22),
        ("want_map_notify", 23),
    ],
)
def test_map_register_flag_positions(flag: str, bit: int) -> None:
    changes: dict[str, Any] = {flag: True}
    message = replace(BASE, **changes)
    first = int.from_bytes(message.encode()[:4], "big")
    assert first == (3 << 28) | (1 << (31 - bit)) | 1
    decoded = decode_control(message.encode())
    assert decoded == message and decoded.to_json()[flag] is True


def test_map_register_i_bit_follows_the_xtr_id() -> None:
    message = replace(BASE, xtr_id=XtrId(0x0102, 0x0304))
    encoded = message.encode()
    assert int.from_bytes(encoded[:4], "big") & (1 << 25)
    assert encoded[-24:] == bytes(14) + b"\x01\x02" + bytes(6) + b"\x03\x04"
    assert decode_control(encoded) == message


def test_map_register_without_i_bit_rejects_a_trailing_xtr_id() -> None:
    # The lispers.net quirk is accepted for Map-Notify(-Ack) only, where it was seen.
    encoded = BASE.encode() + XtrId(1, 2).encode()
    with pytest.raises(TrailingBytesError):
        decode_control(encoded)


@pytest.mark.parametrize(
    "changes",
    [
        {"nonce": 1 << 64},
        {"nonce": -1},
        {"key_id": -1},
        {"records": (RECORD,) * 256},
        {"reserved": 1},  # outside the reserved bits 7-18
        {"reserved": 1 << 25},  # the I bit is not reserved
        {"algorithm": AlgorithmId.HMAC_SHA_1_96, "auth_data": bytes(12)},
    ],
)
def test_map_register_refuses_invalid_fields(changes: dict[str, Any]) -> None:
    with pytest.raises(EncodeError):
        replace(BASE, **changes)


@pytest.mark.parametrize("cls", [MapNotify, MapNotifyAck])
def test_notify_types_share_the_layout_but_not_the_type(
    cls: type[MapNotify] | type[MapNotifyAck],
) -> None:
    message = cls(nonce=7, records=(RECORD,), algorithm=AlgorithmId.NONE, rtr=True)
    encoded = message.encode()
    assert encoded[0] >> 4 == (4 if cls is MapNotify else 5)
    assert encoded[0] & 0x04  # R is bit 5
    decoded = decode_control(encoded)
    assert type(decoded) is cls and decoded == message
    assert decoded.to_json()["type"] == ("map-notify" if cls is MapNotify else "map-notify-ack")


def test_notify_keeps_the_i_bit_apart_from_the_xtr_id() -> None:
    xtr = XtrId(0xDC3030BE5D3CC9C3, 8)
    quirk = MapNotify(nonce=7, records=(), algorithm=AlgorithmId.NONE, xtr_id=xtr)
    proper = replace(quirk, i_bit=True)
    assert quirk.encode()[:-24] == replace(quirk, xtr_id=None).encode()  # no I bit on the wire
    assert proper.encode()[0] & 0x08 and not quirk.encode()[0] & 0x08
    notes: list[str] = []
    assert decode_control(quirk.encode(), notes) == quirk
    assert notes and "without the I bit" in notes[0]
    assert decode_control(proper.encode()) == proper


def test_notify_without_i_bit_and_other_trailing_lengths_is_an_error() -> None:
    message = MapNotify(nonce=7, records=(), algorithm=AlgorithmId.NONE)
    for extra in (1, 23, 25):
        with pytest.raises(TrailingBytesError):
            decode_control(message.encode() + bytes(extra))


def test_notify_refuses_an_i_bit_without_xtr_id() -> None:
    with pytest.raises(EncodeError):
        MapNotify(nonce=1, records=(), i_bit=True)
    with pytest.raises(EncodeError):
        MapNotifyAck(nonce=1, records=(), reserved=1 << 27)


def test_records_with_the_same_locators_share_one_decoded_set() -> None:
    """A Map-Server keeps a record per prefix: equal locator sets are one tuple."""
    other = replace(RECORD, eid=IPv4Address("192.168.2.0"))
    message = replace(BASE, records=(RECORD, other))
    shared = new_locator_sets()
    first = decode_control(message.encode(), locator_sets=shared)
    again = decode_control(message.encode(), locator_sets=shared)
    assert isinstance(first, MapRegister) and isinstance(again, MapRegister)
    sets = [r.locators for r in first.records + again.records]
    assert all(s is sets[0] for s in sets) and sets[0] == RECORD.locators
    assert list(shared.entries.values()) == [sets[0]]
    moved = replace(RECORD, locators=(Locator(address=IPv4Address("10.0.9.9"), priority=2),))
    decoded = decode_control(replace(BASE, records=(moved,)).encode(), locator_sets=shared)
    assert isinstance(decoded, MapRegister) and decoded.records[0].locators == moved.locators


def test_without_a_table_of_locator_sets_nothing_is_shared() -> None:
    """The codecs keep no state of their own: sharing is the caller's table."""
    first = decode_control(BASE.encode())
    again = decode_control(BASE.encode())
    assert isinstance(first, MapRegister) and isinstance(again, MapRegister)
    assert first.records[0].locators == again.records[0].locators
    assert first.records[0].locators is not again.records[0].locators


def test_a_truncated_locator_is_an_error_even_when_its_set_was_seen() -> None:
    encoded = BASE.encode()
    shared = new_locator_sets()
    decode_control(encoded, locator_sets=shared)
    with pytest.raises(DecodeError):
        decode_control(encoded[:-1], locator_sets=shared)


@pytest.mark.parametrize(
    "register",
    [
        replace(BASE, algorithm=AlgorithmId.HMAC_SHA_256_128, want_map_notify=True),
        replace(
            BASE,
            algorithm=AlgorithmId.HMAC_SHA_1_96,
            key_id=7,
            proxy_reply=True,
            records=(
                RECORD,
                MappingRecord(
                    eid=InstanceId(iid=100, address=IPv6Address("2001:db8::")),
                    eid_mask_len=48,
                    ttl=3,
                    locators=(Locator(address=IPv6Address("2001:db8:ff::1"), priority=2),),
                ),
            ),
        ),
        replace(BASE, algorithm=AlgorithmId.HMAC_SHA_256_128, xtr_id=XtrId(0x0A0B, 0x0C0D)),
    ],
)
def test_the_notify_answering_a_register_is_the_notify_of_its_fields(
    register: MapRegister,
) -> None:
    _, raw = register.signed(b"site-key")
    unsigned = notify_answering(raw, i_bit=register.xtr_id is not None)
    expected = notify_of_fields(raw, b"site-key")
    assert sign_encoded(unsigned, register.algorithm, b"site-key") == expected
