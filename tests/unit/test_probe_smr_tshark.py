"""Wireshark reads what probing and SMR send as we mean it: P, S and s bits, nonces, EIDs."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from helpers.tshark import check_payloads
from helpers.xtr_fixtures import build_xtr, datagram, icmp, lisp1_config, lisp2_config
from lispstack.core.events import SendDatagram
from lispstack.wire.control import decode_control
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import EidRecord, Locator, MappingRecord

pytestmark = pytest.mark.tshark


def mapping(eid: str, rloc: str) -> MappingRecord:
    return MappingRecord(
        eid=ip_address(eid), eid_mask_len=24, ttl=10, locators=(Locator(address=ip_address(rloc)),)
    )


def test_tshark_reads_our_probe_probe_reply_smr_and_smr_invoked_request() -> None:
    etr, itr, _ = build_xtr(lisp1_config(extra="[itr]\nrloc-probe-interval = 5\n"))
    itr.handle_tun(icmp("192.168.1.1", "192.168.2.1"), 0.0)
    answer = MapReply(
        nonce=itr.client.pending_list()[0].nonce, records=(mapping("192.168.2.0", "10.0.2.2"),)
    )
    payload = answer.encode()
    itr.handle_control(answer, datagram(payload, "10.0.2.2", 4342, "10.0.1.1", 4342), 0.0)
    probe = None
    now = 0.0
    while probe is None:
        now = itr.next_deadline() or now
        probe = next((a for a in itr.on_timer(now) if isinstance(a, SendDatagram)), None)
    # lisp2's ETR answers it.
    etr2, _, _ = build_xtr(lisp2_config())
    reply = etr2.handle_control(
        decode_control(probe.payload),
        datagram(probe.payload, "10.0.1.1", 4342, "10.0.2.2", 4342),
        now,
    )
    probe_reply = next(a for a in reply if isinstance(a, SendDatagram))
    # lisp1's ETR saw lisp2 ask, then its database changes: an SMR to lisp2.
    asked = MapRequest(
        nonce=3,
        itr_rlocs=(ip_address("10.0.2.2"),),
        source_eid=ip_address("192.168.2.1"),
        records=(EidRecord(eid=ip_address("192.168.1.1"), eid_mask_len=32),),
    )
    etr.handle_control(asked, datagram(asked.encode(), "10.0.2.2", 4342, "10.0.1.1", 4342), now)
    smr = next(
        a
        for a in etr.database_changed(now)
        if isinstance(a, SendDatagram) and a.destination.address == ip_address("10.0.2.2")
    )
    # lisp2's ITR (with lisp1's mapping cached) answers the SMR through its Map-Resolver.
    _, itr2, _ = build_xtr(lisp2_config())
    itr2.cache.insert(mapping("192.168.1.0", "10.0.1.1"), now, "test")
    invoked = next(
        a
        for a in itr2.handle_smr(decode_control(smr.payload), "10.0.1.1", now)
        if isinstance(a, SendDatagram)
    )
    frames = check_payloads([probe.payload, probe_reply.payload, smr.payload, invoked.payload])
    for frame in frames:
        assert frame.clean, frame.problems()
    probe_f, reply_f, smr_f, invoked_f = frames
    assert probe_f.value("lisp.mreq.flags.probe") == "1"
    assert probe_f.value("lisp.mreq.record.prefix.ipv4") == "192.168.2.0"
    assert reply_f.value("lisp.mrep.flags.probe") == "1"
    assert reply_f.value("lisp.nonce") == probe_f.value("lisp.nonce")
    assert smr_f.value("lisp.mreq.flags.smr") == "1"
    assert smr_f.value("lisp.mreq.srceid.ipv4") == "192.168.1.0"
    assert smr_f.value("lisp.mreq.record.prefix.ipv4") == "192.168.2.1"
    assert invoked_f.value("lisp.mreq.flags.smri") == "1"
    assert invoked_f.value("lisp.mreq.flags.smr") == "0"
