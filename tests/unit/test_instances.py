"""Instance-ids on an xTR: each TUN is a routing domain; two tenants share an EID prefix."""

from __future__ import annotations

from helpers.xtr_fixtures import TENANTS, answer, build_xtr, datagram, icmp, lisp1_config
from lispstack.core.encapsulation import data_header, decapsulate
from lispstack.core.events import Action, SendDatagram, WriteToTun
from lispstack.core.itr import Itr
from lispstack.wire.control import decode_control
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_request import MapRequest

HOST, REMOTE = "10.1.0.2", "10.2.0.2"


def sends(actions: list[Action]) -> list[SendDatagram]:
    return [a for a in actions if isinstance(a, SendDatagram)]


def requested(itr: Itr, instance: int) -> MapRequest:
    """The Map-Request a tenant's first packet to REMOTE sends (from its TUN)."""
    out = sends(itr.handle_tun(icmp(HOST, REMOTE), 0.0, instance))
    assert len(out) == 1
    ecm = decode_control(out[0].payload)
    assert isinstance(ecm, Ecm) and isinstance(ecm.message, MapRequest)
    return ecm.message


def test_each_tun_resolves_in_its_own_instance_id_with_the_same_source_prefix() -> None:
    _, itr, _ = build_xtr(lisp1_config(extra=TENANTS))
    asked = {iid: requested(itr, iid) for iid in (100, 200)}
    assert {iid: str(r.records[0].eid) for iid, r in asked.items()} == {
        100: "[100]10.2.0.2",
        200: "[200]10.2.0.2",
    }
    out = {
        iid: sends(answer(itr, asked[iid], f"[{iid}]10.2.0.0/24", f"10.0.{iid // 100 + 1}.9"))
        for iid in asked
    }
    headers = {iid: decapsulate(o[0].payload) for iid, o in out.items()}
    assert {iid: h.iid for iid, h in headers.items()} == {100: 100, 200: 200}
    assert {iid: str(o[0].destination) for iid, o in out.items()} == {
        100: "10.0.2.9:4341",
        200: "10.0.3.9:4341",
    }
    shown = itr.show("map-cache", None, 0.2)
    assert isinstance(shown, list)
    assert [(e["iid"], e["eid"], e["rlocs"][0]["address"]) for e in shown] == [
        (100, "10.2.0.0/24", "10.0.2.9"),
        (200, "10.2.0.0/24", "10.0.3.9"),
    ]


def test_a_tenant_packet_not_from_its_eid_space_is_dropped_never_forwarded_natively() -> None:
    _, itr, counters = build_xtr(lisp1_config(extra=TENANTS))
    # 192.168.1.1 is an instance-id 0 EID: from tenant 100's TUN it is no EID of tenant 100.
    for source, instance in (("192.168.1.1", 100), ("4.2.2.2", 200)):
        assert not sends(itr.handle_tun(icmp(source, REMOTE), 0.0, instance))
    assert counters.get("drop.instance-not-eid-source") == 2
    # and a tenant's EID is no EID of instance-id 0
    assert counters.get("native.not-eid-source") == 0
    itr.handle_tun(icmp(HOST, REMOTE), 0.0)
    assert counters.get("native.not-eid-source") == 1


def test_the_etr_delivers_each_instance_id_to_its_own_tun() -> None:
    etr, _, counters = build_xtr(lisp1_config(extra=TENANTS))
    inner = icmp(REMOTE, HOST)
    for iid in (100, 200):
        encapsulated = datagram(data_header(1, 1, iid=iid) + inner, "10.0.2.2", 5, "10.0.1.1", 4341)
        assert etr.handle_data(encapsulated, 0.0) == [WriteToTun(inner, iid)]
    unserved = datagram(data_header(1, 1, iid=300) + inner, "10.0.2.2", 5, "10.0.1.1", 4341)
    assert not [a for a in etr.handle_data(unserved, 0.0) if isinstance(a, WriteToTun)]
    assert counters.get("drop.decap-unserved-iid") == 1
    assert counters.get("decap.packets") == 2
    # per instance-id: those served only, so a flood of iids cannot grow the counters
    instances = {k: v for k, v in counters.snapshot().items() if k.startswith("iid.")}
    assert instances == {"iid.100.decapsulated": 1, "iid.200.decapsulated": 1}
    not_ours = datagram(data_header(1, 1, iid=200) + icmp(REMOTE, "10.9.0.1"), "10.0.2.2", 5,
                        "10.0.1.1", 4341)  # fmt: skip
    etr.handle_data(not_ours, 0.0)
    assert counters.get("drop.decap-not-our-eid") == counters.get("iid.200.dropped") == 1


def test_statistics_and_gauges_count_each_instance_id() -> None:
    _, itr, counters = build_xtr(lisp1_config(extra=TENANTS))
    asked = {iid: requested(itr, iid) for iid in (100, 200)}
    answer(itr, asked[100], "[100]10.2.0.0/24", "10.0.2.9")
    answer(itr, asked[200], "[200]10.2.0.0/24", "10.0.3.9")
    for _ in range(2):
        itr.handle_tun(icmp(HOST, REMOTE), 0.2, 100)
    itr.handle_tun(icmp("192.168.1.1", REMOTE), 0.2, 200)  # not tenant 200's EID
    instances = {k: v for k, v in counters.snapshot().items() if k.startswith("iid.")}
    # the queued first packet of each is encapsulated when its Map-Reply comes
    assert instances == {
        "iid.100.encapsulated": 3,
        "iid.200.encapsulated": 1,
        "iid.200.dropped": 1,
    }
    gauges = itr.gauges()
    assert gauges["iid-map-cache-entries.100"] == gauges["iid-map-cache-entries.200"] == 1
    assert "iid-map-cache-entries.0" not in gauges


def test_show_forwarding_explains_a_tenant_destination_in_its_instance_id() -> None:
    _, itr, _ = build_xtr(lisp1_config(extra=TENANTS))
    answer(itr, requested(itr, 200), "[200]10.2.0.0/24", "10.0.3.9")
    assert itr.explain("[200]10.2.0.2", 0.2).reason.endswith("encapsulate to 10.0.3.9")
    assert itr.explain("[100]10.2.0.2", 0.2).iid == 100
    assert "10.0.3.9" not in itr.explain("[100]10.2.0.2", 0.2).reason
