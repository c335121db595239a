"""The inner IP + UDP header codec: checksums, byte-exact round trips, validation."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from lispstack.wire.buffer import Reader
from lispstack.wire.errors import BadLengthError, BadValueError, DecodeError, EncodeError
from lispstack.wire.ip_udp import IpUdpHeader, internet_checksum, udp_checksum

V4 = IpUdpHeader(
    src=IPv4Address("10.0.1.1"), dst=IPv4Address("192.168.2.1"), sport=4342, dport=4342
)
V6 = IpUdpHeader(src=IPv6Address("fd00::1"), dst=IPv6Address("fd00:2::1"), sport=61000, dport=4342)
PAYLOAD = b"\x10\x00\x00\x01payload!"


def _decode(packet: bytes) -> tuple[IpUdpHeader, bytes, list[str]]:
    r = Reader(packet)
    header, inner = IpUdpHeader.decode_from(r, "inner")
    return header, inner.rest(), r.notes


def test_rfc1071_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2.
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2
    assert internet_checksum(b"\x01") == 0xFEFF  # odd length is padded with a zero byte


@pytest.mark.parametrize("header", [V4, V6], ids=["ipv4", "ipv6"])
def test_encode_fills_checksums_and_decodes_back(header: IpUdpHeader) -> None:
    packet = header.encode(PAYLOAD)
    ip_length = 20 if header.src.version == 4 else 40
    if header.src.version == 4:
        assert internet_checksum(packet[:20]) == 0  # header checksum is correct
    assert udp_checksum(header.src, header.dst, packet[ip_length:]) == 0
    decoded, payload, notes = _decode(packet)
    assert payload == PAYLOAD
    assert notes == []
    assert decoded.src == header.src and decoded.dport == header.dport
    assert decoded.udp_checksum == int.from_bytes(packet[ip_length + 6 : ip_length + 8], "big")
    assert decoded.encode(payload) == packet


def test_kept_fields_reencode_byte_identically() -> None:
    header = IpUdpHeader(
        src=IPv6Address("fd00::1"),
        dst=IPv6Address("fd00::2"),
        sport=1,
        dport=2,
        ttl=3,
        tos=0xB8,
        flow_label=0xABCDE,
        udp_checksum=0,
    )
    packet = header.encode(b"xy")
    assert packet[:4] == bytes.fromhex("6b8abcde")
    decoded, payload, notes = _decode(packet)
    assert decoded == header and payload == b"xy"
    assert any("checksum is 0" in note for note in notes)


def test_wrong_checksums_are_noted_not_fatal() -> None:
    packet = bytearray(V4.encode(PAYLOAD))
    packet[10] ^= 0xFF  # IPv4 header checksum
    packet[26] ^= 0xFF  # UDP checksum
    _, payload, notes = _decode(bytes(packet))
    assert payload == PAYLOAD
    assert any("header checksum" in n for n in notes)
    assert any("UDP checksum" in n for n in notes)


def test_ipv4_options_are_skipped_with_a_note() -> None:
    plain = V4.encode(PAYLOAD)
    options = b"\x01\x01\x01\x00"  # NOP NOP NOP EOL
    total = len(plain) + 4
    header = bytearray(b"\x46" + plain[1:2] + total.to_bytes(2, "big") + plain[4:20] + options)
    header[10:12] = b"\0\0"
    header[10:12] = internet_checksum(bytes(header)).to_bytes(2, "big")
    decoded, payload, notes = _decode(bytes(header) + plain[20:])
    assert payload == PAYLOAD and decoded.src == V4.src
    assert any("options skipped" in n for n in notes)


def _patched(packet: bytes, offset: int, value: bytes) -> bytes:
    return packet[:offset] + value + packet[offset + len(value) :]


@pytest.mark.parametrize(
    ("packet", "error", "field"),
    [
        (_patched(V4.encode(PAYLOAD), 0, b"\x55"), BadValueError, "inner.version"),
        (_patched(V4.encode(PAYLOAD), 0, b"\x44"), BadValueError, "inner.ihl"),
        (_patched(V4.encode(PAYLOAD), 9, b"\x06"), BadValueError, "inner.protocol"),
        (_patched(V4.encode(PAYLOAD), 2, b"\x00\x30"), BadLengthError, "inner.total_length"),
        (V4.encode(PAYLOAD) + b"\0", BadLengthError, "inner.total_length"),
        (_patched(V4.encode(PAYLOAD), 24, b"\x00\x09"), BadLengthError, "inner.udp.length"),
        (V6.encode(PAYLOAD) + b"\0", BadLengthError, "inner.payload_length"),
        (_patched(V6.encode(PAYLOAD), 6, b"\x3a"), BadValueError, "inner.next_header"),
        (b"", DecodeError, "inner.version"),
    ],
    ids=[
        "version",
        "ihl",
        "protocol",
        "total-short",
        "excess",
        "udp-length",
        "v6-excess",
        "v6-next",
        "empty",
    ],
)
def test_invalid_headers_raise(packet: bytes, error: type[DecodeError], field: str) -> None:
    with pytest.raises(error) as info:
        _decode(packet)
    assert info.value.field == field


@pytest.mark.parametrize("header", [V4, V6], ids=["ipv4", "ipv6"])
def test_every_truncation_raises(header: IpUdpHeader) -> None:
    packet = header.encode(PAYLOAD)
    for cut in range(len(packet)):
        with pytest.raises(DecodeError):
            _decode(packet[:cut])


@pytest.mark.parametrize(
    "changes",
    [
        {"dst": IPv6Address("::1")},
        {"sport": 70000},
        {"ttl": 256},
        {"flow_label": 1},
        {"udp_checksum": 0x10000},
    ],
)
def test_invalid_ipv4_headers_refused(changes: dict[str, object]) -> None:
    fields: dict[str, object] = {"src": V4.src, "dst": V4.dst, "sport": 1, "dport": 2}
    with pytest.raises(EncodeError):
        IpUdpHeader(**{**fields, **changes})  # type: ignore[arg-type]


def test_invalid_ipv6_fields_and_sizes_refused() -> None:
    with pytest.raises(EncodeError):
        IpUdpHeader(src=V6.src, dst=V6.dst, sport=1, dport=2, ip_id=5)
    with pytest.raises(EncodeError):
        IpUdpHeader(src=V6.src, dst=V6.dst, sport=1, dport=2, flow_label=1 << 20)
    with pytest.raises(EncodeError):
        V4.encode(bytes(0xFFFF - 28 + 1))
    assert len(V4.encode(bytes(0xFFFF - 28))) == 0xFFFF
