"""Map-Register / Map-Notify / Map-Notify-Ack authentication (full HMAC digests on raw bytes)."""

from __future__ import annotations

import hmac
import json
from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path

import pytest

import lispstack.wire.auth
from lispstack.wire import (
    AlgorithmId,
    BadLengthError,
    BadValueError,
    EncodeError,
    Locator,
    MapNotify,
    MapNotifyAck,
    MappingRecord,
    MapRegister,
    decode_control,
    verify_raw,
    with_authentication,
)
from lispstack.wire.auth import HmacKey, compute_digest

GOLDEN = Path(__file__).parent.parent / "vectors" / "golden"
LISPERS_KEY = b"lispers-test-key"
KEY = b"site-a-secret"
RECORD = MappingRecord(
    eid=IPv4Address("192.168.1.0"),
    eid_mask_len=24,
    locators=(Locator(address=IPv4Address("10.0.1.1")),),
)
REGISTER = MapRegister(nonce=0x0102030405060708, records=(RECORD,), want_map_notify=True)


def _lispers_frames() -> list[bytes]:
    """Frames 1-3 of lispersnet-02 (Map-Register, Map-Notify, Map-Notify-Ack)."""
    frames = []
    for name in ("map_register", "map_notify", "map_notify_ack"):
        entry = json.loads((GOLDEN / f"{name}.json").read_text())[0]
        assert entry["name"].startswith("lispers.net F")
        frames.append(bytes.fromhex(entry["hex"]))
    return frames


def test_all_three_lispers_frames_verify_with_the_site_key_only() -> None:
    frames = _lispers_frames()
    assert len(frames) == 3
    for frame in frames:
        assert frame[13] == AlgorithmId.HMAC_SHA_1_96 and frame[15] == 20
        assert verify_raw(frame, LISPERS_KEY)
        assert not verify_raw(frame, b"lispers-test-kez")


def test_hmac_covers_the_unannounced_xtr_id() -> None:
    notify = _lispers_frames()[1]
    tampered = notify[:-1] + bytes([notify[-1] ^ 1])  # last byte of the site-ID
    assert not verify_raw(tampered, LISPERS_KEY)


@pytest.mark.parametrize(
    ("algorithm", "length"),
    [(AlgorithmId.HMAC_SHA_1_96, 20), (AlgorithmId.HMAC_SHA_256_128, 32)],
)
def test_sign_verify_decode_round_trip(algorithm: AlgorithmId, length: int) -> None:
    signed_register = with_authentication(REGISTER, 5, algorithm, KEY)
    encoded = signed_register.encode()
    assert signed_register.key_id == 5 and len(signed_register.auth_data) == length
    assert encoded[12:16] == bytes([5, algorithm, 0, length])
    assert verify_raw(encoded, KEY)
    assert not verify_raw(encoded, b"other")
    decoded = decode_control(encoded)
    assert decoded == signed_register
    assert decoded.to_json()["algorithm"] == algorithm.label


def test_signed_method_matches_with_authentication() -> None:
    message, encoded = REGISTER.signed(KEY)
    assert message == with_authentication(REGISTER, 0, AlgorithmId.HMAC_SHA_256_128, KEY)
    assert message.encode() == encoded
    # Re-signing a signed message gives the same digest: the old one is zeroed first.
    assert message.signed(KEY)[1] == encoded


@pytest.mark.parametrize("cls", [MapNotify, MapNotifyAck])
def test_notify_signing(cls: type[MapNotify] | type[MapNotifyAck]) -> None:
    notify = cls(nonce=9, records=(RECORD,), algorithm=AlgorithmId.HMAC_SHA_1_96)
    signed_notify, encoded = notify.signed(KEY)
    assert verify_raw(encoded, KEY)
    assert decode_control(encoded) == signed_notify


def test_algorithm_none_is_unsigned_and_never_verifies() -> None:
    message = with_authentication(REGISTER, 1, AlgorithmId.NONE, KEY)
    assert message.auth_data == b"" and message.encode()[12:16] == b"\x01\x00\x00\x00"
    assert not verify_raw(message.encode(), KEY)


def test_verify_rejects_short_and_inconsistent_input() -> None:
    encoded = REGISTER.signed(KEY)[1]
    assert not verify_raw(encoded[:20], KEY)  # cut inside the digest
    assert not verify_raw(b"", KEY)
    assert not verify_raw(encoded[:13] + b"\x09" + encoded[14:], KEY)  # unknown algorithm
    assert not verify_raw(encoded[:15] + b"\x14" + encoded[16:], KEY)  # SHA-256 with 20 bytes


@pytest.mark.parametrize("length", [0, 12, 16, 20, 33])
def test_wrong_auth_length_is_a_decode_error(length: int) -> None:
    encoded = REGISTER.signed(KEY)[1]  # SHA-256: 32 bytes
    bad = encoded[:14] + length.to_bytes(2, "big") + encoded[16:]
    with pytest.raises(BadLengthError) as info:
        decode_control(bad)
    assert info.value.field == "auth_data_length" and info.value.offset == 14


def test_unknown_algorithm_is_a_decode_error() -> None:
    encoded = REGISTER.encode()
    with pytest.raises(BadValueError) as info:
        decode_control(encoded[:13] + b"\x03" + encoded[14:])
    assert info.value.field == "algorithm_id"


def test_encoders_refuse_auth_data_of_the_wrong_length() -> None:
    with pytest.raises(EncodeError):
        replace(REGISTER, auth_data=bytes(16))  # SHA-256-128 truncation is not what we send
    with pytest.raises(EncodeError):
        MapNotify(nonce=1, records=(), algorithm=AlgorithmId.HMAC_SHA_1_96, auth_data=bytes(12))
    with pytest.raises(EncodeError):
        replace(REGISTER, key_id=256)


@pytest.mark.parametrize(
    ("algorithm", "name"),
    [(AlgorithmId.HMAC_SHA_1_96, "sha1"), (AlgorithmId.HMAC_SHA_256_128, "sha256")],
)
def test_a_keyed_state_gives_the_one_shot_hmac_every_time(
    algorithm: AlgorithmId, name: str
) -> None:
    """Each digest runs on a copy: the keyed state is never advanced by a message."""
    keyed = HmacKey(KEY)
    for message in (b"", bytes(range(64)), b"x" * 1000, bytes(range(64))):
        expected = hmac.digest(KEY, message, name)
        assert compute_digest(algorithm, keyed, message) == expected
        assert compute_digest(algorithm, KEY, message) == expected
    assert keyed.digest(algorithm, b"m") == HmacKey(KEY.decode()).digest(algorithm, b"m")


def test_keyed_states_of_different_keys_never_mix() -> None:
    message = bytes(range(64))
    keys = [HmacKey(f"key-{index}") for index in range(3)]
    digests = {keyed.digest(AlgorithmId.HMAC_SHA_256_128, message) for keyed in keys * 2}
    assert len(digests) == 3


def test_a_keyed_state_signs_and_verifies_as_the_raw_key_does() -> None:
    keyed = HmacKey(KEY)
    signed = REGISTER.signed(keyed)[1]
    assert signed == REGISTER.signed(KEY)[1]
    assert verify_raw(signed, keyed) and verify_raw(signed, KEY)
    assert not verify_raw(signed, HmacKey(b"other"))


def test_algorithm_none_computes_no_digest() -> None:
    for key in (KEY, HmacKey(KEY)):
        with pytest.raises(EncodeError):
            compute_digest(AlgorithmId.NONE, key, b"message")


def test_a_keyed_state_does_not_show_its_key() -> None:
    assert "site-a-secret" not in repr(HmacKey(KEY))


def test_the_codecs_keep_no_keys() -> None:
    """Keyed states belong to whoever holds the key (site table, ETR), not to wire/."""
    compute_digest(AlgorithmId.HMAC_SHA_256_128, KEY, b"message")
    verify_raw(REGISTER.signed(HmacKey(KEY))[1], HmacKey(KEY))
    held = [
        name
        for name, value in vars(lispstack.wire.auth).items()
        if isinstance(value, dict) and any(isinstance(v, hmac.HMAC) for v in value.values())
    ]
    assert held == []
