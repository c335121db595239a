"""Golden frames from lispers.net captures: what another implementation really sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lispstack.capture import read_capture
from lispstack.wire import DecodeError, InfoReply, decode_control, verify_raw

CAPTURES = Path(__file__).parent.parent / "vectors" / "captures"
KEY = b"lispers-test-key"


def _payloads(name: str) -> list[bytes]:
    return [d.payload for d in read_capture(CAPTURES / name).datagrams]


def _decode(payload: bytes) -> tuple[dict[str, Any], list[str]]:
    notes: list[str] = []
    message = decode_control(payload, notes)
    return message.to_json(), notes


ALL_FRAMES = [
    pytest.param(name, index, id=f"{name[11:13]}-frame{index + 1}")
    for name, count in (
        ("lispersnet-02-register-sha1-proxy-reply.pcap", 3),
        ("lispersnet-03-lig-negative.pcap", 6),
        ("lispersnet-04-lig-ipv6-and-iid.pcap", 6),
        ("lispersnet-06-info-request-reply.pcap", 4),
    )
    for index in range(count)
]


def test_register_notify_ack_decode_and_authenticate() -> None:
    register, notify, ack = _payloads("lispersnet-02-register-sha1-proxy-reply.pcap")
    message, notes = _decode(register)
    assert message["type"] == "map-register"
    assert message["nonce"] == "0x01dfdfdfddccbbaa"
    assert message["proxy_reply"] and message["want_map_notify"]
    assert message["use_ttl_for_timeout"]
    assert message["algorithm"] == "hmac-sha-1-96"
    assert message["site_id"] == "0x0000000000000008"
    assert [r["eid"] for r in message["records"]] == [
        "10.211.1.0/24",
        "fd00:211:1::/48",
        "10.221.1.0/24",
    ]
    assert [r["iid"] for r in message["records"]] == [0, 0, 200]
    assert [loc["address"] for loc in message["records"][0]["rlocs"]] == [
        "10.77.0.12",
        "fd00:77::12",
    ]
    assert message["records"][0]["rlocs"][0]["weight"] == 50
    assert notes == []
    for frame in (register, notify, ack):
        assert verify_raw(frame, KEY)
        assert not verify_raw(frame, b"another-key")
    notify_json, notify_notes = _decode(notify)
    assert notify_json["type"] == "map-notify"
    assert notify_json["nonce"] == message["nonce"]
    assert not notify_json["xtr_id_present"] and "xtr_id" in notify_json
    assert any("without the I bit" in note for note in notify_notes)
    assert _decode(ack)[0]["type"] == "map-notify-ack"


def test_negative_replies() -> None:
    frames = _payloads("lispersnet-03-lig-negative.pcap")
    replies = [_decode(frame)[0] for frame in frames[1::2]]
    assert [r["records"][0]["eid"] for r in replies] == [
        "10.99.99.99/32",
        "10.231.5.5/32",
        replies[2]["records"][0]["eid"],
    ]
    assert replies[2]["records"][0]["eid"].endswith("/128")
    assert [r["records"][0]["ttl"] for r in replies] == [15, 1, 15]
    assert all(r["records"][0]["action"] == "natively-forward" for r in replies)
    assert all(not r["records"][0]["authoritative"] for r in replies)
    request, _ = _decode(frames[0])
    assert request["type"] == "ecm"
    assert request["inner"]["message"]["nonce"] == replies[0]["nonce"]
    assert request["inner"]["message"]["itr_rlocs"] == ["10.77.0.13"]


def test_ipv6_inner_checksum_zero_is_noted() -> None:
    message, notes = _decode(_payloads("lispersnet-04-lig-ipv6-and-iid.pcap")[0])
    assert message["inner"]["src"].count(":") >= 2
    assert any("checksum is 0" in note for note in notes)


def test_instance_id_request_and_reply() -> None:
    frames = _payloads("lispersnet-04-lig-ipv6-and-iid.pcap")
    reply, _ = _decode(frames[5])
    assert reply["records"][0]["iid"] == 200


def test_info_request_and_short_nat_lcaf() -> None:
    request, reply = _payloads("lispersnet-06-info-request-reply.pcap")[:2]
    request_json, request_notes = _decode(request)
    assert request_json["type"] == "info-request"
    assert request_json["node_name"] == "vm"
    assert request_notes
    reply_json, reply_notes = _decode(reply)
    assert reply_json["type"] == "info-reply"
    assert reply_json["etr_udp_port"] == 55335
    assert reply_json["global_etr_rloc"] == "10.77.0.13"
    assert any("shorter than its body" in note for note in reply_notes)


# Frames whose lispers.net deviation makes one shorter prefix a valid message of its own:
# a Map-Notify(-Ack) without its unannounced xTR-ID, an Info-Reply without its last RTR AFI.
VALID_PREFIX_CUTS = {
    ("lispersnet-02-register-sha1-proxy-reply.pcap", 1): 24,
    ("lispersnet-02-register-sha1-proxy-reply.pcap", 2): 24,
    ("lispersnet-06-info-request-reply.pcap", 1): 2,
}


@pytest.mark.parametrize(("name", "index"), ALL_FRAMES)
def test_frames_reencode_and_every_truncation_raises(name: str, index: int) -> None:
    payload = _payloads(name)[index]
    message = decode_control(payload)
    if not isinstance(message, InfoReply):  # lispers.net's LCAF length is not canonical
        assert message.encode() == payload
    shorter_by = VALID_PREFIX_CUTS.get((name, index))
    valid_cut = None if shorter_by is None else len(payload) - shorter_by
    for cut in range(len(payload)):
        if cut == valid_cut:
            decode_control(payload[:cut])
            continue
        with pytest.raises(DecodeError):
            decode_control(payload[:cut])
