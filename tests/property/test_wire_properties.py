"""decode(encode(m)) == m, and malformed bytes raise only DecodeError."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lispstack.wire import ControlMessage, DecodeError, decode_control
from property.strategies import control_messages

SETTINGS = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@SETTINGS
@given(control_messages)
def test_control_round_trip(message: ControlMessage) -> None:
    encoded = message.encode()
    decoded = decode_control(encoded)
    assert decoded == message
    assert decoded.encode() == encoded


@settings(SETTINGS, max_examples=100)
@given(control_messages)
def test_every_truncation_raises(message: ControlMessage) -> None:
    encoded = message.encode()
    for cut in range(len(encoded)):
        try:
            decode_control(encoded[:cut])
        except DecodeError:
            continue
        raise AssertionError(f"truncation to {cut} of {len(encoded)} bytes decoded")


@SETTINGS
@given(control_messages, st.data())
def test_mutations_raise_only_decode_error(message: ControlMessage, data: st.DataObject) -> None:
    encoded = bytearray(message.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(encoded) - 1))
        encoded[position] = data.draw(st.integers(0, 255))
    with contextlib.suppress(DecodeError):
        decode_control(bytes(encoded))


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(payload: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_control(payload)
