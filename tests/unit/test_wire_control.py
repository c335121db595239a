"""The control-message dispatcher: every type, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lispstack.wire import (
    ControlMessage,
    Ecm,
    InfoReply,
    InfoRequest,
    MapNotify,
    MapNotifyAck,
    MapReferral,
    MapRegister,
    MapReply,
    MapRequest,
    Reader,
    TrailingBytesError,
    TruncatedError,
    UnknownAfiError,
    decode_control,
    decode_control_from,
)

GOLDEN = Path(__file__).parent.parent / "vectors" / "golden"
EXPECTED: dict[str, type[ControlMessage]] = {
    "map-request": MapRequest,
    "map-reply": MapReply,
    "map-register": MapRegister,
    "map-notify": MapNotify,
    "map-notify-ack": MapNotifyAck,
    "map-referral": MapReferral,
    "info-request": InfoRequest,
    "info-reply": InfoReply,
    "ecm": Ecm,
}


def test_every_type_dispatches_to_its_class() -> None:
    seen = set()
    for path in GOLDEN.glob("*.json"):
        for entry in json.loads(path.read_text()):
            kind = entry["json"]["type"]
            if kind == "data":
                continue
            assert type(decode_control(bytes.fromhex(entry["hex"]))) is EXPECTED[kind]
            seen.add(kind)
    assert seen == set(EXPECTED)


@pytest.mark.parametrize("kind", [0, 9, 15])
def test_unknown_types_are_refused(kind: int) -> None:
    with pytest.raises(UnknownAfiError) as info:
        decode_control(bytes([kind << 4]) + bytes(15))
    assert info.value.field == "type" and info.value.offset == 0


def test_empty_and_trailing() -> None:
    with pytest.raises(TruncatedError):
        decode_control(b"")
    reply = MapReply(nonce=1, records=())
    with pytest.raises(TrailingBytesError) as info:
        decode_control(reply.encode() + b"\0")
    assert info.value.offset == 12


def test_decode_from_a_restricted_reader_reports_absolute_offsets() -> None:
    data = b"\xff" * 5 + MapReply(nonce=1, records=()).encode()
    assert decode_control_from(Reader(data, 5)) == MapReply(nonce=1, records=())
    with pytest.raises(TruncatedError) as info:
        decode_control_from(Reader(data, 5, len(data) - 1))
    assert info.value.offset == 5 and info.value.field == "map_reply.header"
