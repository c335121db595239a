"""Data-plane header and packet: round trip, and malformed bytes raise only DecodeError."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lispstack.wire import DataHeader, DataPacket, DecodeError
from lispstack.wire.buffer import Reader
from property.strategies import data_headers, data_packets

SETTINGS = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@SETTINGS
@given(data_headers())
def test_data_header_round_trip(header: DataHeader) -> None:
    encoded = header.encode()
    assert len(encoded) == 8
    assert DataHeader.decode_from(Reader(encoded)) == header


@SETTINGS
@given(data_packets())
def test_data_packet_round_trip(packet: DataPacket) -> None:
    encoded = packet.encode()
    decoded = DataPacket.decode(encoded)
    assert decoded == packet
    assert decoded.encode() == encoded


@SETTINGS
@given(data_packets())
def test_data_packet_truncated_into_its_headers_raises(packet: DataPacket) -> None:
    # The LISP header and the inner IP header must be whole; the inner payload may be cut.
    encoded = packet.encode()
    inner_header = 20 if packet.inner[0] >> 4 == 4 else 40
    for cut in range(8 + inner_header):
        try:
            DataPacket.decode(encoded[:cut])
        except DecodeError:
            continue
        raise AssertionError(f"truncation to {cut} of {len(encoded)} bytes decoded")


@SETTINGS
@given(data_packets(), st.data())
def test_data_packet_mutations_raise_only_decode_error(
    packet: DataPacket, data: st.DataObject
) -> None:
    encoded = bytearray(packet.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(encoded) - 1))
        encoded[position] = data.draw(st.integers(0, 255))
    with contextlib.suppress(DecodeError):
        DataPacket.decode(bytes(encoded))


@SETTINGS
@given(st.binary(max_size=80))
def test_random_bytes_raise_only_decode_error(payload: bytes) -> None:
    with contextlib.suppress(DecodeError):
        DataPacket.decode(payload)
