"""Map-Referral (RFC 8111): actions, flags, signatures refused, construction checks."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from lispstack.wire import (
    BadValueError,
    EncodeError,
    InstanceId,
    Locator,
    MapReferral,
    ReferralAction,
    ReferralRecord,
    decode_control,
)

RECORD = ReferralRecord(
    eid=IPv4Address("10.1.0.0"),
    eid_mask_len=16,
    action=ReferralAction.MS_REFERRAL,
    authoritative=True,
    referrals=(Locator(address=IPv4Address("192.0.2.1")),),
)
REFERRAL = MapReferral(nonce=0x55, records=(RECORD,))


def test_record_flags_on_the_wire() -> None:
    encoded = REFERRAL.encode()
    assert encoded[:4] == b"\x60\x00\x00\x01"
    # TTL(4) ref-count mask-len then ACT|A|I: ms-referral (1) with A set.
    assert encoded[12 + 4 : 12 + 8] == bytes([1, 16, 0x30, 0x00])
    assert decode_control(encoded) == REFERRAL


@pytest.mark.parametrize("action", list(ReferralAction))
def test_every_action_round_trips(action: ReferralAction) -> None:
    record = ReferralRecord(
        eid=InstanceId(7, IPv4Address("10.0.0.0")),
        eid_mask_len=8,
        action=action,
        incomplete=True,
    )
    decoded = decode_control(MapReferral(nonce=1, records=(record,)).encode())
    assert isinstance(decoded, MapReferral)
    assert decoded.records[0] == record
    assert decoded.to_json()["records"][0]["action"] == action.name.lower().replace("_", "-")
    assert decoded.to_json()["records"][0]["iid"] == 7


def test_unknown_action_is_refused() -> None:
    encoded = bytearray(REFERRAL.encode())
    encoded[18] = 0xC0  # ACT 6
    with pytest.raises(BadValueError) as info:
        decode_control(bytes(encoded))
    assert "action" in info.value.reason


def test_signatures_are_not_supported() -> None:
    encoded = bytearray(REFERRAL.encode())
    encoded[20] = 0x10  # SigCnt 1
    with pytest.raises(BadValueError) as info:
        decode_control(bytes(encoded))
    assert "signatures" in info.value.reason and info.value.field == "record[0].sig_count"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"eid_mask_len": 33},
        {"map_version": 0x1000},
        {"ttl": 1 << 32},
        {"reserved": 0x800},
        {"referrals": (Locator(address=IPv4Address("192.0.2.1")),) * 256},
    ],
)
def test_records_refuse_invalid_fields(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"eid": IPv4Address("10.0.0.0"), "eid_mask_len": 8, **kwargs}
    with pytest.raises(EncodeError):
        ReferralRecord(**fields)  # type: ignore[arg-type]


def test_message_refuses_invalid_fields() -> None:
    with pytest.raises(EncodeError):
        MapReferral(nonce=1 << 64, records=())
    with pytest.raises(EncodeError):
        MapReferral(nonce=1, records=(), reserved=1 << 20)
