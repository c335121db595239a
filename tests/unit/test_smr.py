"""SMR (RFC 9301 section 6.1): never answered with a Map-Reply; an SMR-invoked Map-Request
through the Map-Resolver replaces the cached mapping; ETRs send SMRs to recent ITRs."""

from __future__ import annotations

import random
from ipaddress import ip_address

from helpers.xtr_fixtures import build_xtr, datagram, icmp, lisp1_config, lisp2_config
from lispstack.config import parse_config
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.encapsulation import data_header
from lispstack.core.events import Action, PacketFromTun, SendDatagram
from lispstack.core.node import Node
from lispstack.core.xtr import build_xtr_roles
from lispstack.wire.control import decode_control
from lispstack.wire.ecm import Ecm
from lispstack.wire.ip_udp import build_udp_packet
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import EidRecord, Locator, MappingRecord

OOR_SMR = bytes.fromhex("1100000100000000000000000001c0a8010000010a09010300180001c0a80200")
"""What OOR's xTR (RLOC 10.9.1.3, EID 192.168.1.0/24) sent when its RLOC changed (issue 14)."""
OOR_EID_HOST = "192.168.1.7"


ITR_ONLY = """[node]
name = "itr"
roles = ["itr"]
[[database-mappings]]
eid-prefix = "192.168.2.0/24"
rlocs = [{ address = "10.0.2.2" }]
[[map-resolvers]]
address = "10.0.2.254"
"""


def oor_mapping(rloc: str) -> MappingRecord:
    return MappingRecord(
        eid=ip_address("192.168.1.0"),
        eid_mask_len=24,
        ttl=10,
        authoritative=True,
        locators=(Locator(address=ip_address(rloc)),),
    )


def sent(actions: list[Action]) -> list[SendDatagram]:
    return [a for a in actions if isinstance(a, SendDatagram)]


def lisp2_node() -> Node:
    """lisp2 (EID 192.168.2.0/24, RLOC 10.0.2.2, Map-Resolver 10.0.2.254), OOR's mapping cached."""
    etr, itr, counters = build_xtr(lisp2_config())
    node = Node("lisp2", [etr, itr], counters, DropRecorder(counters))
    request = sent(itr.handle_tun(icmp("192.168.2.1", OOR_EID_HOST), 0.0))[0]
    ecm = decode_control(request.payload)
    assert isinstance(ecm, Ecm) and isinstance(ecm.message, MapRequest)
    reply = MapReply(nonce=ecm.message.nonce, records=(oor_mapping("10.9.1.3"),)).encode()
    node.handle(datagram(reply, "10.9.1.3", 4342, "10.0.2.2", 4342), 0.1)
    return node


def encapsulated_to(node: Node, now: float) -> str:
    out = sent(node.handle(PacketFromTun(icmp("192.168.2.1", OOR_EID_HOST)), now))
    return str(out[0].destination)


def _record(eid: str, mask: int = 32) -> EidRecord:
    return EidRecord(eid=ip_address(eid), eid_mask_len=mask)


def test_golden_oor_smr_decodes() -> None:
    smr = decode_control(OOR_SMR)
    assert isinstance(smr, MapRequest)
    assert smr.smr and not smr.probe and not smr.smr_invoked
    assert smr.nonce == 0
    assert str(smr.source_eid) == "192.168.1.0"
    assert [str(r) for r in smr.itr_rlocs] == ["10.9.1.3"]
    assert smr.records[0].eid_text == "192.168.2.0/24"
    assert smr.encode() == OOR_SMR


def test_oor_smr_gets_an_smr_invoked_map_request_to_the_map_resolver_and_no_map_reply() -> None:
    node = lisp2_node()
    assert encapsulated_to(node, 1.0) == "10.9.1.3:4341"
    out = sent(node.handle(datagram(OOR_SMR, "10.9.1.3", 4342, "10.0.2.2", 4342), 2.0))
    assert len(out) == 1
    (request,) = out
    assert str(request.destination) == "10.0.2.254:4342"  # the Map-Resolver, not the SMR's source
    ecm = decode_control(request.payload)
    assert isinstance(ecm, Ecm)
    invoked = ecm.message
    assert isinstance(invoked, MapRequest)
    assert invoked.smr_invoked and not invoked.smr
    assert invoked.records[0].eid_text == "192.168.1.0/32"
    assert node.counters.get("out.map-reply") == 0
    # The answer (OOR's new RLOC) replaces the cached mapping.
    reply = MapReply(nonce=invoked.nonce, records=(oor_mapping("10.9.9.9"),)).encode()
    node.handle(datagram(reply, "10.9.9.9", 4342, "10.0.2.2", 4342), 2.1)
    assert encapsulated_to(node, 2.2) == "10.9.9.9:4341"


def test_smr_requests_are_rate_limited_per_eid() -> None:
    node = lisp2_node()
    first = sent(node.handle(datagram(OOR_SMR, "10.9.1.3", 4342, "10.0.2.2", 4342), 2.0))
    again = sent(node.handle(datagram(OOR_SMR, "10.9.1.3", 4342, "10.0.2.2", 4342), 2.2))
    assert len(first) == 1
    assert again == []


def test_smr_for_an_eid_not_cached_is_dropped_and_counted() -> None:
    etr, itr, counters = build_xtr(lisp2_config())
    node = Node("lisp2", [etr, itr], counters, DropRecorder(counters))
    assert sent(node.handle(datagram(OOR_SMR, "10.9.1.3", 4342, "10.0.2.2", 4342), 1.0)) == []
    assert counters.get("drop.smr-not-cached") == 1
    assert counters.get("out.map-reply") == 0


def test_etr_sends_smrs_to_recent_itrs_when_its_database_changes() -> None:
    etr, _, counters = build_xtr(lisp1_config())
    # An ITR asked for our mapping; another sent us traffic.
    request = MapRequest(
        nonce=5,
        itr_rlocs=(ip_address("10.0.2.2"),),
        source_eid=ip_address("192.168.2.1"),
        records=(_record("192.168.1.1"),),
    )
    etr.handle_control(request, datagram(request.encode(), "10.0.2.2", 4342, "10.0.1.1", 4342), 1.0)
    packet = data_header(1, 1, 0) + icmp("192.168.3.1", "192.168.1.1")
    etr.handle_data(datagram(packet, "10.0.3.3", 50000, "10.0.1.1", 4341), 2.0)
    smrs = [s for s in sent(etr.database_changed(3.0)) if s.destination.port == 4342]
    smrs = [s for s in smrs if str(s.destination.address) != "10.0.1.254"]  # Map-Registers
    assert sorted(str(s.destination) for s in smrs) == ["10.0.2.2:4342", "10.0.3.3:4342"]
    for action in smrs:
        smr = decode_control(action.payload)
        assert isinstance(smr, MapRequest) and smr.smr
        assert str(smr.source_eid) == "192.168.1.0"
        assert str(action.source_address) == "10.0.1.1"
    asked = {str(s.destination): decode_control(s.payload) for s in smrs}
    assert asked["10.0.3.3:4342"].records[0].eid_text == "192.168.3.1/32"  # type: ignore[union-attr]
    assert counters.get("out.smr") == 2
    # Long silent ITRs are forgotten.
    again = sent(etr.database_changed(3.0 + 601.0))
    assert [str(s.destination) for s in again] == ["10.0.1.254:4342"]  # a Map-Register only


def test_etr_answers_a_probe_with_the_probe_bit() -> None:
    etr, _, _ = build_xtr(lisp1_config())
    probe = MapRequest(
        nonce=7,
        itr_rlocs=(ip_address("10.0.2.2"),),
        records=(_record("192.168.1.0", 24),),
        probe=True,
    )
    out = sent(
        etr.handle_control(probe, datagram(probe.encode(), "10.0.2.2", 4342, "10.0.1.1", 4342), 1.0)
    )
    reply = decode_control(out[0].payload)
    assert isinstance(reply, MapReply) and reply.probe and reply.nonce == 7
    assert str(out[0].destination) == "10.0.2.2:4342"
    assert all(locator.probed for locator in reply.records[0].locators)


def test_smr_on_an_etr_without_itr_is_dropped_never_answered() -> None:
    etr, _, counters = build_xtr(lisp1_config())
    etr.on_smr = None
    smr = decode_control(OOR_SMR)
    assert isinstance(smr, MapRequest)
    assert (
        sent(etr.handle_control(smr, datagram(OOR_SMR, "10.9.1.3", 4342, "10.0.1.1", 4342), 1.0))
        == []
    )
    assert counters.get("drop.smr-without-itr") == 1


def test_itr_only_node_answers_no_plain_map_request_but_takes_smrs() -> None:
    counters = Counters()
    itr_only = parse_config(ITR_ONLY, "itr.toml")
    roles = build_xtr_roles(itr_only, counters, DropRecorder(counters), random.Random(1))
    node = Node("itr", roles, counters, DropRecorder(counters))
    plain = MapRequest(
        nonce=9, itr_rlocs=(ip_address("10.9.1.3"),), records=(_record("192.168.2.1"),)
    ).encode()
    assert sent(node.handle(datagram(plain, "10.9.1.3", 4342, "10.0.2.2", 4342), 1.0)) == []
    assert counters.get("drop.unexpected-map-request") == 1
    node.handle(datagram(OOR_SMR, "10.9.1.3", 4342, "10.0.2.2", 4342), 1.0)
    assert counters.get("in.smr") == 1


def test_smr_naming_an_eid_of_the_other_family_gets_an_smr_invoked_request() -> None:
    """xtra's SMR for a moved IPv6 host names lisp2's IPv4 EID in its record (the
    EID lisp2's traffic went to): the ECM's inner header must still be one family."""
    extra = """
[[database-mappings]]
eid-prefix = "fd00:2::/64"
rlocs = [{ address = "10.0.2.2" }]
"""
    etr, itr, counters = build_xtr(
        parse_config(
            ITR_ONLY.replace('roles = ["itr"]', 'roles = ["itr", "etr"]') + extra, "lisp2.toml"
        )
    )
    node = Node("lisp2", [etr, itr], counters, DropRecorder(counters))
    packet = build_udp_packet("fd00:2::1", "fd00:1::10", 40000, 9000, b"data")
    request = sent(itr.handle_tun(packet, 0.0))[0]
    ecm = decode_control(request.payload)
    assert isinstance(ecm, Ecm) and isinstance(ecm.message, MapRequest)
    host = MappingRecord(
        eid=ip_address("fd00:1::10"),
        eid_mask_len=128,
        ttl=10,
        authoritative=True,
        locators=(Locator(address=ip_address("10.0.1.1")),),
    )
    reply = MapReply(nonce=ecm.message.nonce, records=(host,)).encode()
    node.handle(datagram(reply, "10.0.1.1", 4342, "10.0.2.2", 4342), 0.1)
    smr = MapRequest(
        nonce=7,
        smr=True,
        source_eid=ip_address("fd00:1::10"),
        itr_rlocs=(ip_address("10.0.1.1"),),
        records=(_record("192.168.2.1"),),
    ).encode()
    out = sent(node.handle(datagram(smr, "10.0.1.1", 4342, "10.0.2.2", 4342), 1.0))
    assert [str(s.destination) for s in out] == ["10.0.2.254:4342"]
    invoked = decode_control(out[0].payload)
    assert isinstance(invoked, Ecm) and isinstance(invoked.message, MapRequest)
    assert invoked.message.smr_invoked
    assert invoked.message.records[0].eid_text == "fd00:1::10/128"
    assert (invoked.source.version, str(invoked.destination)) == (6, "fd00:1::10")
