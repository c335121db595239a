"""Encapsulated Control Message: flags, inner header fields kept, checksums, validation."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest

from lispstack.wire import (
    BadLengthError,
    BadValueError,
    DecodeError,
    Ecm,
    EidRecord,
    EncodeError,
    MapRequest,
    UnknownAfiError,
    decode_control,
    udp_checksum,
)

REQUEST = MapRequest(
    nonce=0x0123456789ABCDEF,
    itr_rlocs=(IPv4Address("10.0.1.1"),),
    records=(EidRecord(eid=IPv4Address("192.168.2.1"), eid_mask_len=32),),
)
ECM4 = Ecm(
    source=IPv4Address("10.0.1.1"),
    destination=IPv4Address("192.168.2.1"),
    source_port=61000,
    message=REQUEST,
)
ECM6 = Ecm(
    source=IPv6Address("fd00::1"),
    destination=IPv6Address("fd00:2::1"),
    source_port=4342,
    message=REQUEST,
    flow_label=0xABCDE,
    tos=0x20,
    ttl=1,
)


@pytest.mark.parametrize(
    ("flag", "bit"), [("security", 4), ("ddt", 5), ("to_etr", 6), ("to_ms", 7)]
)
def test_flag_positions(flag: str, bit: int) -> None:
    changes: dict[str, Any] = {flag: True}
    encoded = replace(ECM4, **changes).encode()
    assert int.from_bytes(encoded[:4], "big") == (8 << 28) | (1 << (31 - bit))
    assert decode_control(encoded).to_json()[flag] is True


@pytest.mark.parametrize("ecm", [ECM4, ECM6], ids=["ipv4", "ipv6"])
def test_computed_checksum_is_valid_and_kept_on_decode(ecm: Ecm) -> None:
    encoded = ecm.encode()
    ip_length = 20 if ecm.source.version == 4 else 40
    segment = encoded[4 + ip_length :]
    assert udp_checksum(ecm.source, ecm.destination, segment) == 0
    notes: list[str] = []
    decoded = decode_control(encoded, notes)
    assert isinstance(decoded, Ecm) and notes == []
    assert decoded.udp_checksum == int.from_bytes(segment[6:8], "big") != 0
    assert decoded.message == REQUEST
    assert decoded.encode() == encoded
    assert replace(decoded, udp_checksum=None) == ecm


def test_inner_fields_survive_for_forwarding() -> None:
    forwarded = replace(ECM4, ttl=7, tos=0x10, ip_id=0xBEEF, ip_flags=0x4000, udp_checksum=0)
    encoded = forwarded.encode()
    assert encoded[4:6] == b"\x45\x10" and encoded[8:10] == b"\xbe\xef"
    assert encoded[10:12] == b"\x40\x00" and encoded[12] == 7
    assert encoded[30:32] == b"\x00\x00"
    assert decode_control(encoded) == forwarded
    # encode_around: the same bytes from an already encoded inner message.
    assert forwarded.encode_around(REQUEST.encode()) == encoded


def test_json_shape() -> None:
    data = ECM6.to_json()
    assert data["type"] == "ecm"
    assert data["inner"] == {
        "src": "fd00::1",
        "dst": "fd00:2::1",
        "sport": 4342,
        "dport": 4342,
        "message": REQUEST.to_json(),
    }


def test_ipv6_zero_checksum_is_noted() -> None:
    notes: list[str] = []
    decode_control(replace(ECM6, udp_checksum=0).encode(), notes)
    assert len(notes) == 1 and "checksum is 0" in notes[0]


def _patched(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


@pytest.mark.parametrize(
    ("data", "error", "field"),
    [
        (_patched(ECM4.encode(), 4, b"\x35"), BadValueError, "ecm.inner.version"),
        (_patched(ECM4.encode(), 13, b"\x06"), BadValueError, "ecm.inner.protocol"),
        (_patched(ECM4.encode(), 6, b"\x00\x14"), BadLengthError, "ecm.inner.total_length"),
        (_patched(ECM4.encode(), 28, b"\x00\x08"), BadLengthError, "ecm.inner.udp.length"),
        (_patched(ECM6.encode(), 8, b"\x00\x09"), BadLengthError, "ecm.inner.payload_length"),
        (_patched(ECM4.encode(), 32, b"\x00"), UnknownAfiError, "type"),
        (_patched(ECM4.encode(), 32, b"\x80"), BadValueError, "ecm.inner.type"),
    ],
    ids=["version", "protocol", "total", "udp-length", "v6-length", "inner-type", "ecm-in-ecm"],
)
def test_invalid_inner_headers(data: bytes, error: type[DecodeError], field: str) -> None:
    with pytest.raises(error) as info:
        decode_control(data)
    assert info.value.field == field


def test_excess_after_the_inner_packet_is_an_error() -> None:
    with pytest.raises(BadLengthError):
        decode_control(ECM4.encode() + b"\0")


@pytest.mark.parametrize(
    "changes",
    [
        {"destination": IPv6Address("::1")},
        {"source_port": 1 << 16},
        {"reserved": 1 << 24},
        {"ttl": 256},
        {"flow_label": 1},
        {"udp_checksum": -1},
        {"message": ECM6},
    ],
)
def test_refuses_invalid_objects(changes: dict[str, Any]) -> None:
    with pytest.raises(EncodeError):
        replace(ECM4, **changes)
