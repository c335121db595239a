"""Open Overlay Router's instance-id 100 packets (tests/vectors/captures/README.md): its
Map-Register decodes and authenticates, and our ETR delivers its data packets into
tenant 100's domain only, though tenant 200 uses the same EID prefix."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from helpers.tshark import check_pcap
from helpers.xtr_fixtures import TENANTS, build_xtr, datagram, lisp1_config
from lispstack.capture import UdpDatagram, read_capture
from lispstack.core.encapsulation import decapsulate, inner_ints
from lispstack.core.events import WriteToTun
from lispstack.wire import decode_control, verify_raw
from lispstack.wire.map_register import MapRegister

CAPTURE = (
    Path(__file__).parent.parent / "vectors" / "captures" / "oor-01-iid100-register-and-data.pcap"
)
OOR_RLOC, OUR_RLOC = "10.0.1.1", "10.0.2.2"
"""As captured; our ETR here is lisp1 (tests/helpers/xtr_fixtures.py), with both tenants."""


def _datagrams() -> list[UdpDatagram]:
    return list(read_capture(CAPTURE).datagrams)


def _oor_data() -> list[UdpDatagram]:
    return [d for d in _datagrams() if str(d.src) == OOR_RLOC and d.dport == 4341]


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
        version, src, dst = inner_ints(packet.inner)
        assert (version, IPv4Address(src)) == (4, IPv4Address("10.9.0.2"))
        assert IPv4Address(dst) == IPv4Address("10.1.0.2")
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


@pytest.mark.tshark
def test_tshark_reads_oors_capture_as_instance_id_100_cleanly() -> None:
    frames = check_pcap(CAPTURE)
    assert [f.frame for f in frames if not f.clean] == []
    assert [frames[i].value("lisp.type") for i in (0, 1)] == ["3", "4"]
    assert [f.value("lisp-data.iid") for f in frames[2:]] == ["100"] * 6
