"""Open Overlay Router's instance-id 100 packets (tests/vectors/captures/README.md): its
Map-Register decodes and authenticates, and our ETR, and our PETR, deliver its data
packets into tenant 100's domain only, though tenant 200 uses the same EID prefix."""

from __future__ import annotations

import random
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from helpers.tshark import check_pcap
from helpers.xtr_fixtures import TENANT_INSTANCES, TENANTS, build_xtr, datagram, lisp1_config
from lispstack.capture import UdpDatagram, read_capture
from lispstack.config import parse_config
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.encapsulation import decapsulate, inner_ints
from lispstack.core.events import WriteToTun
from lispstack.core.xtr import build_xtr_roles
from lispstack.wire import decode_control, verify_raw
from lispstack.wire.map_register import MapRegister

CAPTURES = Path(__file__).parent.parent / "vectors" / "captures"
CAPTURE = CAPTURES / "oor-01-iid100-register-and-data.pcap"
THROUGH_PXTR = CAPTURES / "oor-02-iid100-through-pxtr.pcap"
OOR_RLOC, OUR_RLOC = "10.0.1.1", "10.0.2.2"
"""As captured; our ETR here is lisp1 (tests/helpers/xtr_fixtures.py), with both tenants."""


def _datagrams(path: Path = CAPTURE) -> list[UdpDatagram]:
    return list(read_capture(path).datagrams)


def _oor_data(path: Path = CAPTURE) -> list[UdpDatagram]:
    return [d for d in _datagrams(path) if str(d.src) == OOR_RLOC and d.dport == 4341]


def test_oors_map_register_carries_instance_id_100_and_authenticates() -> None:
    register, notify = (d.payload for d in _datagrams()[:2])
    message = decode_control(register)
    assert isinstance(message, MapRegister)
    (record,) = message.records
    assert message.to_json()["records"][0]["iid"] == 100
    assert (str(record.eid), record.eid_mask_len) == ("[100]10.9.0.0", 24)
    assert verify_raw(register, b"oor-secret") and verify_raw(notify, b"oor-secret")
    assert not verify_raw(register, b"another-key")


def test_oors_data_packets_carry_instance_id_100_and_an_echo_request_inside() -> None:
    data = _oor_data()
    assert len(data) == 3
    for sent in data:
        packet = decapsulate(sent.payload)
        assert packet.iid == 100
        assert _addresses(packet.inner) == (IPv4Address("10.9.0.2"), IPv4Address("10.1.0.2"))
    # OOR sets the I bit only: no nonce, no locator-status bits
    assert {d.payload[0] for d in data} == {0x08}


def test_our_etr_delivers_oors_packets_into_tenant_100_only() -> None:
    etr, _, counters = build_xtr(lisp1_config(extra=TENANTS))
    for sent in _oor_data():
        received = datagram(sent.payload, OOR_RLOC, sent.sport, OUR_RLOC, sent.dport)
        inner = decapsulate(sent.payload).inner
        assert etr.handle_data(received, 0.0) == [WriteToTun(inner, 100)]
    assert counters.get("iid.100.decapsulated") == 3
    assert not counters.get("iid.200.decapsulated")


def test_our_petr_delivers_oors_packets_for_a_non_lisp_host_into_tenant_100_only() -> None:
    config = parse_config('[node]\nname = "px"\nroles = ["petr"]\n' + TENANT_INSTANCES, "px")
    counters = Counters()
    (petr,) = build_xtr_roles(config, counters, DropRecorder(counters), random.Random(1))
    data = _oor_data(THROUGH_PXTR)
    inners = [decapsulate(d.payload).inner for d in data]
    assert [tuple(map(str, _addresses(inner))) for inner in inners] == [
        ("10.9.0.2", "192.0.2.2")
    ] * 2
    for sent, inner in zip(data, inners, strict=True):
        received = datagram(sent.payload, OOR_RLOC, sent.sport, "10.0.3.3", sent.dport)
        assert petr.handle_data(received, 0.0) == [WriteToTun(inner, 100)]
    assert counters.get("iid.100.decapsulated") == counters.get("petr.forwarded") == 2


def _addresses(inner: bytes) -> tuple[IPv4Address, IPv4Address]:
    version, src, dst = inner_ints(inner)
    assert version == 4
    return IPv4Address(src), IPv4Address(dst)


@pytest.mark.tshark
def test_tshark_reads_oors_capture_as_instance_id_100_cleanly() -> None:
    frames = check_pcap(CAPTURE)
    assert [f.frame for f in frames if not f.clean] == []
    assert [frames[i].value("lisp.type") for i in (0, 1)] == ["3", "4"]
    assert [f.value("lisp-data.iid") for f in frames[2:]] == ["100"] * 6
    through = check_pcap(THROUGH_PXTR)
    assert [f.frame for f in through if not f.clean] == []
    assert [f.value("lisp-data.iid") for f in through] == ["100"] * 4
