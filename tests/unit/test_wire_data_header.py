"""The RFC 9300 data header and data packets (the fast helpers: test_data_plane_fast_paths)."""

from __future__ import annotations

import pytest

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
from lispstack.wire.ip_udp import build_ipv4, build_ipv6

INNER = build_ipv4("192.168.1.1", "192.168.2.1", 1, bytes.fromhex("0800f7ff00000000"))


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


@pytest.mark.parametrize(
    ("first_byte", "ignored"),
    [(0x20, True), (0x60, True), (0xA0, False), (0x80, False), (0x00, False), (0x30, True)],
    ids=["E", "E-L", "E-N", "N", "none", "E-V"],
)
def test_echo_nonce_without_a_nonce_is_flagged_as_ignored(first_byte: int, ignored: bool) -> None:
    # RFC 9300 section 5.3: E is ignored when N is clear (a V header carries no nonce).
    header = DataHeader.decode_from(Reader(bytes([first_byte]) + bytes(7)))
    assert header.echo_nonce_ignored is ignored
