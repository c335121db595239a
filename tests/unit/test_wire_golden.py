"""Golden vectors (tests/vectors/golden/*.json): hex -> JSON, byte-exact re-encoding, truncation.

Each file holds entries {"name", "hex", "json"} and optionally "canonical"
(false: the sender's encoding is not the one we produce), "notes" (the
deviations the decoder must report), "key" (the HMAC key the frame must
verify with) and "valid_prefix_cut" (a shorter length that is a valid
message of its own, e.g. a Map-Notify without the unannounced xTR-ID).
The frames from lispers.net captures were copied here as hex.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lispstack.wire import DataPacket, DecodeError, Reader, decode_control, verify_raw

GOLDEN = Path(__file__).parent.parent / "vectors" / "golden"
CONTROL_FILES = [
    "map_request",
    "map_reply",
    "map_register",
    "map_notify",
    "map_notify_ack",
    "map_referral",
    "info",
    "ecm",
]


def _entries(name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((GOLDEN / f"{name}.json").read_text())
    return entries


def _params(names: list[str]) -> list[Any]:
    return [
        pytest.param(entry, id=f"{name}:{index}")
        for name in names
        for index, entry in enumerate(_entries(name))
    ]


def _decode(data: bytes, kind: str) -> tuple[Any, list[str]]:
    notes: list[str] = []
    if kind == "data":
        return DataPacket.decode_from(Reader(data, notes=notes)), notes
    return decode_control(data, notes), notes


def test_every_file_is_present_and_types_match() -> None:
    expected_type = {name: name.replace("_", "-") for name in CONTROL_FILES} | {"data": "data"}
    for name, message_type in expected_type.items():
        entries = _entries(name)
        assert entries, name
        types = {e["json"]["type"] for e in entries}
        if name == "info":
            assert types == {"info-request", "info-reply"}
        else:
            assert types == {message_type}


@pytest.mark.parametrize("entry", [*_params(CONTROL_FILES), *_params(["data"])])
def test_golden_vector(entry: dict[str, Any]) -> None:
    data = bytes.fromhex(entry["hex"])
    kind = "data" if entry["json"]["type"] == "data" else "control"
    message, notes = _decode(data, kind)
    assert message.to_json() == entry["json"]
    assert notes == entry.get("notes", [])
    if entry.get("canonical", True):
        assert message.encode() == data
    else:
        # Not byte-identical, but what we write decodes to the same message.
        assert message.encode() != data
        assert _decode(message.encode(), kind)[0] == message
    if "key" in entry:
        key = entry["key"].encode()
        assert verify_raw(data, key)
        assert not verify_raw(data, key + b"x")


@pytest.mark.parametrize("entry", [*_params(CONTROL_FILES), *_params(["data"])])
def test_every_truncation_raises(entry: dict[str, Any]) -> None:
    data = bytes.fromhex(entry["hex"])
    kind = "data" if entry["json"]["type"] == "data" else "control"
    valid_cut = entry.get("valid_prefix_cut")
    for cut in range(len(data)):
        if cut == valid_cut:
            _decode(data[:cut], kind)  # the deviation's shorter form is valid by itself
            continue
        with pytest.raises(DecodeError):
            _decode(data[:cut], kind)


@pytest.mark.parametrize("entry", _params(CONTROL_FILES))
def test_trailing_byte_raises(entry: dict[str, Any]) -> None:
    data = bytes.fromhex(entry["hex"])
    with pytest.raises(DecodeError):
        decode_control(data + b"\0")
