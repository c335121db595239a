"""What xTRs behind a NAT and RTRs send each other: the ECM Map-Register, the Data-Map-Notify."""

from __future__ import annotations

from ipaddress import IPv4Address

from lispstack.core.events import Endpoint
from lispstack.core.nat_messages import (
    control_in_data,
    data_map_notify,
    ecm_payload,
    register_via_rtr,
    with_rtr_locators,
)
from lispstack.wire import Locator, MappingRecord, MapRegister, XtrId, decode_control, verify_raw
from lispstack.wire.ecm import Ecm

PRIVATE = IPv4Address("10.1.0.2")
RTR = IPv4Address("198.51.100.1")
RTR2 = IPv4Address("198.51.100.2")
MS = IPv4Address("198.51.100.254")
KEY = b"natted-key"
RECORD = MappingRecord(
    eid=IPv4Address("192.168.10.0"),
    eid_mask_len=24,
    ttl=3,
    authoritative=True,
    locators=(Locator(address=PRIVATE, local=True),),
)


def _register() -> tuple[MapRegister, bytes]:
    return MapRegister(
        nonce=0x1122334455667788,
        records=(with_rtr_locators(RECORD, (RTR,)),),
        proxy_reply=True,
        want_map_notify=True,
        xtr_id=XtrId(0xAB, 7),
    ).signed(KEY)


def test_rtrs_replace_the_locators_with_equal_priority_and_weight() -> None:
    record = with_rtr_locators(RECORD, (RTR, RTR2))
    assert [(loc.address, loc.priority, loc.weight) for loc in record.locators] == [
        (RTR, 1, 50),
        (RTR2, 1, 50),
    ]
    assert record.eid == RECORD.eid and record.ttl == RECORD.ttl


def test_map_register_goes_to_the_rtr_in_an_ecm_from_port_4341_golden() -> None:
    register, signed_bytes = _register()
    send = register_via_rtr(register, PRIVATE, RTR, MS)
    assert send.destination == Endpoint(RTR, 4342)
    assert send.source_port == 4341 and send.source_address == PRIVATE
    assert send.payload == (
        bytes.fromhex(
            "81000000"  # ECM, M bit (to Map-Server)
            "4500008000000000401145390a010002c63364fe"  # IPv4 10.1.0.2 -> 198.51.100.254
            "10f610f6006c9586"  # UDP 4342 -> 4342, length 108
        )
        + signed_bytes
    )
    ecm = decode_control(send.payload)
    assert isinstance(ecm, Ecm) and ecm.to_ms and not ecm.to_etr
    assert (ecm.source, ecm.destination) == (PRIVATE, MS)
    # The Map-Server checks the HMAC over the bytes the RTR takes out, as signed.
    inner = ecm_payload(send.payload)
    assert inner == signed_bytes and verify_raw(inner, KEY)
    message = decode_control(inner)
    assert isinstance(message, MapRegister) and message.proxy_reply and message.xtr_id is not None
    assert [loc.address for loc in message.records[0].locators] == [RTR]


NOTIFY = bytes.fromhex("40000001") + bytes(12)


def test_data_map_notify_golden_and_read_back() -> None:
    send = data_map_notify(
        NOTIFY, RTR, PRIVATE, 0x123456, Endpoint(IPv4Address("203.0.113.1"), 4341)
    )
    assert send.source_port == 4342
    assert send.destination == Endpoint(IPv4Address("203.0.113.1"), 4341)
    assert (
        send.payload
        == bytes.fromhex(
            "c0123456 00000001"  # LISP data header: N and L bits, nonce 0x123456, LSB 1
            "4500002c 00004000 4011068a c6336401 0a010002"  # IPv4 RTR -> private RLOC, DF
            "10f610f6 00186999".replace(" ", "")  # UDP 4342 -> 4342
        )
        + NOTIFY
    )
    inner = send.payload[8:]
    assert control_in_data(inner, (PRIVATE,)) == NOTIFY


def test_only_a_udp_4342_packet_to_our_rloc_is_a_data_map_notify() -> None:
    inner = data_map_notify(NOTIFY, RTR, PRIVATE, 1, Endpoint(RTR, 4341)).payload[8:]
    assert control_in_data(inner, (IPv4Address("10.9.9.9"),)) is None  # not to us
    other_port = inner[:22] + (4341).to_bytes(2, "big") + inner[24:]
    assert control_in_data(other_port, (PRIVATE,)) is None
    assert control_in_data(b"\x45" + bytes(30), (PRIVATE,)) is None  # not IP/UDP
