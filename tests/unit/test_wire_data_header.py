"""The RFC 9300 data header, the fast encapsulation helper, and data packets."""

from __future__ import annotations

import pytest

from lispstack.capture import build_ipv4, build_ipv6
from lispstack.wire import (
    BadLengthError,
    BadValueError,
    DataHeader,
    DataPacket,
    EncodeError,
    Reader,
    TruncatedError,
    encapsulation_header,
)

INNER = build_ipv4("192.168.1.1", "192.168.2.1", 1, bytes.fromhex("0800f7ff00000000"))


@pytest.mark.parametrize(
    ("nonce", "lsb", "iid"),
    [
        (0, 0, None),
        (0xABCDEF, 1, None),
        (0xFFFFFF, 0xFFFFFFFF, None),
        (5, 3, 200),
        (1, 0xFF, 0xFFFFFF),
    ],
)
def test_fast_helper_matches_the_checked_header(nonce: int, lsb: int, iid: int | None) -> None:
    header = DataHeader(
        nonce_present=True,
        lsb_present=True,
        instance_id_present=iid is not None,
        nonce=nonce,
        instance_id=iid or 0,
        lsb=lsb,
    )
    assert encapsulation_header(nonce, lsb, iid) == header.encode()
    assert DataHeader.decode_from(Reader(header.encode())) == header


def test_bit_layout() -> None:
    header = DataHeader(map_version_present=True, source_map_version=1, dest_map_version=0xFFF)
    assert header.encode() == bytes.fromhex("10001fff00000000")
    with_iid = DataHeader(lsb_present=True, instance_id_present=True, instance_id=200, lsb=3)
    assert with_iid.encode() == bytes.fromhex("480000000000c803")


def test_n_and_v_together_are_refused_both_ways() -> None:
    with pytest.raises(EncodeError):
        DataHeader(nonce_present=True, map_version_present=True)
    with pytest.raises(BadValueError):
        DataHeader.decode_from(Reader(bytes.fromhex("9000000000000000")))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"nonce": 1 << 24},
        {"source_map_version": 0x1000},
        {"instance_id": 1 << 24},
        {"instance_id_present": True, "lsb": 0x100},
        {"lsb": 1 << 32},
        {"reserved_flags": 8},
    ],
)
def test_refuses_invalid_headers(kwargs: dict[str, object]) -> None:
    with pytest.raises(EncodeError):
        DataHeader(**kwargs)  # type: ignore[arg-type]


def test_packet_round_trip_and_json() -> None:
    packet = DataPacket(header=DataHeader(lsb_present=True, lsb=1), inner=INNER)
    decoded = DataPacket.decode(packet.encode())
    assert decoded == packet
    data = decoded.to_json()
    assert data["instance_id"] == 0 and data["lsb"] == 1
    assert data["inner"] == {
        "src": "192.168.1.1",
        "dst": "192.168.2.1",
        "protocol": 1,
        "length": len(INNER),
    }


def test_ipv6_inner_summary() -> None:
    inner = build_ipv6("fd00::1", "fd00::2", 58, b"\x80\0\0\0\0\0\0\0")
    packet = DataPacket.decode(encapsulation_header(1, 0, 200) + inner)
    assert packet.to_json()["inner"]["dst"] == "fd00::2"
    assert packet.to_json()["instance_id"] == 200


def test_inner_packet_must_be_whole() -> None:
    header = encapsulation_header(1, 1)
    with pytest.raises(TruncatedError):
        DataPacket.decode(header + INNER[:-1])
    with pytest.raises(BadLengthError):
        DataPacket.decode(header + INNER + b"\0")
    with pytest.raises(BadValueError):
        DataPacket.decode(header + b"\x50" + INNER[1:])
    with pytest.raises(EncodeError):
        DataPacket(header=DataHeader(), inner=INNER[:10])
