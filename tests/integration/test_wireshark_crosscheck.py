"""Wireshark (tshark 4.0) as an independent oracle: our bytes dissect cleanly and agree."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from helpers.tshark import DATA_PORT, Probe, TsharkFrame, check_payloads
from lispstack.capture import build_ipv4
from lispstack.wire import (
    Action,
    AlgorithmId,
    DataHeader,
    DataPacket,
    Ecm,
    EidRecord,
    InstanceId,
    Locator,
    MapNotify,
    MapNotifyAck,
    MappingRecord,
    MapReferral,
    MapRegister,
    MapReply,
    MapRequest,
    ReferralAction,
    ReferralRecord,
    XtrId,
)
from lispstack.wire.control import ControlMessage

pytestmark = pytest.mark.tshark

V4 = IPv4Address
V6 = IPv6Address
KEY = b"site-a-secret"

SITE_B = MappingRecord(
    eid=V4("192.168.2.0"),
    eid_mask_len=24,
    ttl=1440,
    authoritative=True,
    locators=(
        Locator(address=V4("10.0.2.2"), priority=1, weight=60, local=True),
        Locator(address=V6("2001:db8::2"), priority=2, weight=40),
    ),
)
SITE_V6 = MappingRecord(
    eid=V6("2001:db8:2::"),
    eid_mask_len=48,
    ttl=60,
    locators=(Locator(address=V4("10.0.2.2"), priority=1, weight=100),),
)
SITE_IID = MappingRecord(
    eid=InstanceId(200, V4("10.221.1.0")),
    eid_mask_len=24,
    ttl=3,
    authoritative=True,
    locators=(Locator(address=V4("10.77.0.12"), priority=1, weight=100, local=True),),
)
NEGATIVE = MappingRecord(
    eid=V4("0.0.0.0"),
    eid_mask_len=1,
    ttl=15,
    action=Action.NATIVELY_FORWARD,
    authoritative=True,
)


def _request(eid: V4 | V6, itr: V4 | V6) -> MapRequest:
    return MapRequest(
        nonce=0x0123456789ABCDEF,
        itr_rlocs=(itr,),
        records=(EidRecord(eid=eid, eid_mask_len=eid.max_prefixlen),),
        source_eid=itr,
    )


def _corpus() -> list[ControlMessage]:
    register = MapRegister(
        nonce=0xAAAA0000BBBB0001,
        records=(SITE_B, SITE_V6, SITE_IID),
        proxy_reply=True,
        want_map_notify=True,
        xtr_id=XtrId(0xDC3030BE5D3CC9C3, 8),
    )
    sha1_register = MapRegister(
        nonce=2,
        records=(NEGATIVE,),
        algorithm=AlgorithmId.HMAC_SHA_1_96,
    )
    notify = MapNotify(nonce=0xAAAA0000BBBB0001, records=(SITE_B,))
    return [
        MapReply(nonce=0x1122334455667788, records=(SITE_B,)),
        MapReply(nonce=0x1122334455667789, records=(NEGATIVE, SITE_V6, SITE_IID)),
        _request(V4("192.168.2.1"), V4("10.0.1.1")),
        Ecm(
            source=V4("10.0.1.1"),
            destination=V4("4.2.2.2"),
            source_port=4342,
            message=_request(V4("4.2.2.2"), V4("10.0.1.1")),
        ),
        Ecm(
            source=V6("2001:db8::1"),
            destination=V6("2001:db8:2::1"),
            source_port=61000,
            message=_request(V6("2001:db8:2::1"), V6("2001:db8::1")),
        ),
        register.signed(KEY)[0],
        sha1_register.signed(KEY)[0],
        notify.signed(KEY)[0],
        MapNotifyAck(nonce=0xAAAA0000BBBB0001, records=(SITE_B,)).signed(KEY)[0],
        MapReferral(
            nonce=9,
            records=(
                ReferralRecord(
                    eid=V4("192.168.0.0"),
                    eid_mask_len=16,
                    action=ReferralAction.MS_REFERRAL,
                    referrals=(Locator(address=V4("10.0.1.254")),),
                ),
            ),
        ),
    ]


def _records(message: ControlMessage) -> tuple[MappingRecord, ...]:
    inner = message.message if isinstance(message, Ecm) else message
    if isinstance(inner, MapReply | MapRegister | MapNotify | MapNotifyAck):
        return inner.records
    return ()


def _compare(message: ControlMessage, frame: TsharkFrame) -> None:
    fields = frame.fields
    inner = message.message if isinstance(message, Ecm) else message
    assert fields["lisp.nonce"] == [f"0x{inner.nonce:016x}"]
    if isinstance(inner, MapRequest):
        assert fields["lisp.mreq.record.prefix.length"] == [
            str(r.eid_mask_len) for r in inner.records
        ]
        prefixes = fields.get("lisp.mreq.record.prefix.ipv4", []) + fields.get(
            "lisp.mreq.record.prefix.ipv6", []
        )
        assert prefixes == [str(r.eid) for r in inner.records]
        return
    if isinstance(inner, MapRegister | MapNotify | MapNotifyAck):
        assert fields["lisp.keyid"] == [f"0x{inner.algorithm:04x}"]
        assert fields["lisp.authlen"] == [str(inner.algorithm.digest_length)]
    records = _records(message)
    if isinstance(inner, MapReferral):
        return
    assert fields["lisp.records"] == [str(len(records))]
    assert fields.get("lisp.mapping.ttl", []) == [str(r.ttl) for r in records]
    assert fields.get("lisp.mapping.eid.masklen", []) == [str(r.eid_mask_len) for r in records]
    assert fields.get("lisp.mapping.act", []) == [str(int(r.action)) for r in records]
    assert fields.get("lisp.mapping.auth", []) == [str(int(r.authoritative)) for r in records]
    locators = [loc for r in records for loc in r.locators]
    assert fields.get("lisp.loc.locator", []) == [str(loc.address) for loc in locators]
    assert fields.get("lisp.loc.priority", []) == [str(loc.priority) for loc in locators]
    assert fields.get("lisp.loc.weight", []) == [str(loc.weight) for loc in locators]


def test_control_messages_dissect_cleanly_and_agree() -> None:
    corpus = _corpus()
    probes = [Probe(m.encode()) for m in corpus]
    # A Map-Reply travels from 4342 to the requester's ephemeral port.
    probes.append(Probe(corpus[0].encode(), port=52001, sport=4342))
    frames = check_payloads(probes)
    assert len(frames) == len(probes)
    for message, frame in zip([*corpus, corpus[0]], frames, strict=True):
        assert frame.is_lisp, frame
        assert frame.clean, (message, frame.problems())
        _compare(message, frame)


def test_data_packets_dissect_cleanly() -> None:
    echo_request = bytes.fromhex("0800f7ff00000000")
    inner = build_ipv4("192.168.1.1", "192.168.2.1", 1, echo_request)
    packets = [
        DataPacket(
            header=DataHeader(nonce_present=True, lsb_present=True, nonce=0xABCDEF, lsb=1),
            inner=inner,
        ),
        DataPacket(
            header=DataHeader(lsb_present=True, instance_id_present=True, instance_id=200, lsb=3),
            inner=inner,
        ),
    ]
    frames = check_payloads([Probe(p.encode(), port=DATA_PORT) for p in packets])
    for packet, frame in zip(packets, frames, strict=True):
        assert frame.clean, frame.problems()
        assert "ip" in frame.protocols[frame.protocols.index("lisp-data") + 1 :]
        if packet.header.nonce_present:
            assert frame.value("lisp-data.nonce") in ("11259375", "0xabcdef")
