"""ETR role: Map-Register schedule and authentication, Map-Notify, Map-Replies, decapsulation."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from helpers.mapping_messages import LISP1, SITES, deliver, mapping_node, notify_of_fields
from helpers.xtr_fixtures import build_xtr, datagram, icmp, lisp1_config
from lispstack.core.encapsulation import data_header
from lispstack.core.etr import Etr
from lispstack.core.events import Action, SendDatagram, WriteToTun
from lispstack.wire.auth import verify_raw
from lispstack.wire.control import decode_control
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_register import MapRegister
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import EidRecord

KEY = "site-a-secret"


def sends(actions: list[Action]) -> list[SendDatagram]:
    return [a for a in actions if isinstance(a, SendDatagram)]


def notify_to(etr: Etr, payload: bytes, now: float) -> list[Action]:
    return etr.handle_control(
        decode_control(payload), datagram(payload, "10.0.1.254", 4342, "10.0.1.1", 4342), now
    )


@pytest.mark.parametrize(
    ("algorithm", "algorithm_id", "length"), [("hmac-sha-256", 2, 32), ("hmac-sha-1", 1, 20)]
)
def test_map_register_at_start_is_signed_with_flags(
    algorithm: str, algorithm_id: int, length: int
) -> None:
    etr, _, counters = build_xtr(lisp1_config(algorithm=algorithm, proxy_reply=True))
    assert etr.next_deadline() == 0.0
    out = sends(etr.on_timer(0.0))
    assert len(out) == 1 and str(out[0].destination) == "10.0.1.254:4342"
    payload = out[0].payload
    register = decode_control(payload)
    assert isinstance(register, MapRegister)
    assert register.proxy_reply and register.want_map_notify
    assert register.xtr_id is not None
    assert (register.algorithm, len(register.auth_data)) == (algorithm_id, length)
    assert verify_raw(payload, KEY.encode())
    assert not verify_raw(payload, b"wrong")
    assert counters.get("out.map-register") == 1


def test_unanswered_map_register_is_retransmitted_with_backoff() -> None:
    etr, _, _ = build_xtr(lisp1_config())
    now, times = 0.0, []
    for _ in range(7):
        assert sends(etr.on_timer(now))
        times.append(now)
        deadline = etr.next_deadline()
        assert deadline is not None
        now = deadline
    assert times == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 61.0]
    assert etr.sessions[0].state == "pending"


def test_map_notify_registers_and_schedules_the_next_register_with_jitter() -> None:
    etr, _, counters = build_xtr(lisp1_config())
    register = sends(etr.on_timer(0.0))[0].payload
    notify_to(etr, notify_of_fields(register, KEY.encode()), 0.2)
    session = etr.sessions[0]
    assert session.state == "registered" and session.last_notify == 0.2
    assert 54.0 <= session.next_register <= 66.0 and session.next_register != 60.0
    assert counters.get("in.map-notify.accepted") == 1
    database = etr.show("database", None, 0.0)
    assert isinstance(database, list)
    assert database[0]["eid"] == "192.168.1.0/24"
    assert database[0]["registrations"][0]["state"] == "registered"


def test_map_notify_with_bad_auth_or_unknown_nonce_is_dropped() -> None:
    etr, _, counters = build_xtr(lisp1_config())
    register = sends(etr.on_timer(0.0))[0].payload
    notify_to(etr, notify_of_fields(register, b"not-the-key"), 0.1)
    assert counters.get("drop.map-notify-bad-auth") == 1
    forged = bytearray(notify_of_fields(register, KEY.encode()))
    forged[4] ^= 0xFF  # another nonce
    notify_to(etr, bytes(forged), 0.1)
    assert counters.get("drop.map-notify-unknown-nonce") == 1
    assert etr.sessions[0].state == "pending"


def test_shutdown_deregisters_with_ttl_0() -> None:
    etr, _, _ = build_xtr(lisp1_config())
    out = sends(etr.shutdown(5.0))
    assert len(out) == 1
    register = decode_control(out[0].payload)
    assert isinstance(register, MapRegister)
    assert [record.ttl for record in register.records] == [0]
    assert not register.want_map_notify


def request(eid: str, mask: int = 32, itr_rloc: str = "10.0.2.2") -> MapRequest:
    return MapRequest(
        nonce=0x1234,
        itr_rlocs=(ip_address(itr_rloc),),
        records=(EidRecord(eid=ip_address(eid), eid_mask_len=mask),),
        source_eid=ip_address("192.168.2.1"),
    )


def test_map_request_forwarded_in_ecm_gets_authoritative_reply_to_itr_rloc() -> None:
    etr, _, counters = build_xtr(lisp1_config())
    ecm = Ecm(
        source=ip_address("10.0.2.2"),
        destination=ip_address("192.168.1.1"),
        source_port=61000,
        message=request("192.168.1.1"),
    )
    received = datagram(ecm.encode(), "10.0.1.254", 4342, "10.0.1.1", 4342)
    out = sends(etr.handle_control(ecm, received, 0.0))
    assert len(out) == 1
    assert str(out[0].destination) == "10.0.2.2:61000"
    assert out[0].source_port == 4342
    answer = decode_control(out[0].payload)
    assert isinstance(answer, MapReply) and answer.nonce == 0x1234
    record = answer.records[0]
    assert (record.eid_text, record.ttl, record.authoritative) == ("192.168.1.0/24", 1440, True)
    locator = record.locators[0]
    assert (str(locator.address), locator.local, locator.reachable) == ("10.0.1.1", True, True)
    assert counters.get("out.map-reply") == 1


def test_direct_map_request_answered_to_its_source_port_and_foreign_eid_dropped() -> None:
    etr, _, counters = build_xtr(lisp1_config())
    mine = request("192.168.1.9")
    out = sends(
        etr.handle_control(mine, datagram(mine.encode(), "10.0.2.2", 4342, "10.0.1.1", 4342), 0.0)
    )
    assert str(out[0].destination) == "10.0.2.2:4342"
    foreign = request("192.168.2.1")
    assert (
        etr.handle_control(
            foreign, datagram(foreign.encode(), "10.0.2.2", 4342, "10.0.1.1", 4342), 0.0
        )
        != []
    )
    assert counters.get("drop.map-request-not-our-eid") == 1


def test_decapsulation_delivers_only_our_eids() -> None:
    etr, _, counters = build_xtr(lisp1_config())
    inner = icmp("192.168.2.1", "192.168.1.1")
    ok = datagram(data_header(1, 1) + inner, "10.0.2.2", 50000, "10.0.1.1", 4341)
    assert etr.handle_data(ok, 0.0) == [WriteToTun(inner)]
    assert counters.get("decap.packets") == 1
    other = data_header(1, 1) + icmp("192.168.2.1", "4.2.2.2")
    etr.handle_data(datagram(other, "10.0.2.2", 50000, "10.0.1.1", 4341), 0.0)
    assert counters.get("drop.decap-not-our-eid") == 1
    etr.handle_data(datagram(b"\x00" * 5, "10.0.2.2", 50000, "10.0.1.1", 4341), 0.0)
    assert counters.get("drop.decap-malformed") == 1
    iid7 = data_header(1, 1, iid=7) + inner
    etr.handle_data(datagram(iid7, "10.0.2.2", 50000, "10.0.1.1", 4341), 0.0)
    assert counters.get("drop.decap-unserved-iid") == 1


def test_decapsulate_data_delivers_what_handle_data_would_and_nothing_else() -> None:
    twins = [build_xtr(lisp1_config()) for _ in range(2)]
    inner = icmp("192.168.2.1", "192.168.1.1")
    payloads = [
        data_header(1, 1) + inner,
        data_header(1, 1) + icmp("192.168.2.1", "4.2.2.2"),  # not our EID
        b"\x00" * 5,  # malformed
        data_header(1, 1, iid=7) + inner,  # an instance-id we do not serve
    ]
    (fast, _, fast_counters), (general, _, general_counters) = twins
    for payload in payloads:
        received = datagram(payload, "10.0.2.2", 50000, "10.0.1.1", 4341)
        delivered = fast.decapsulate_data(payload, received.source, 1.0)
        expected = general.handle_data(received, 1.0)
        if delivered is None:
            assert not [a for a in expected if isinstance(a, WriteToTun)]
            fast.handle_data(received, 1.0)  # the daemon's fallback: counts the drop
        else:
            assert expected == [WriteToTun(*delivered)]
    assert fast_counters.snapshot() == general_counters.snapshot()
    assert fast_counters.get("decap.packets") == 1
    assert fast.recent_itrs.current(1.0) == general.recent_itrs.current(1.0)


MANY_HOSTS = """
[[database-mappings]]
eid-prefix = "2001:db8:1::/64"
rlocs = [{ address = "10.0.1.1" }, { address = "10.0.9.1", priority = 2 }]
dynamic = true
dynamic-limit = 1000
"""


def test_many_hosts_are_registered_in_map_registers_that_each_fit_an_mtu() -> None:
    """1,000 learned IPv6 hosts (two RLOCs each): one Map-Register would be ~60 KB, over
    a UDP datagram's limit with a few more; each Map-Register now stays unfragmented,
    our Map-Server takes each, and the registration counts once all are answered."""
    etr, _, _ = build_xtr(lisp1_config(extra=MANY_HOSTS))
    site_a = 'eid-prefixes = ["192.168.1.0/24", "2001:db8:1::/48"]'
    map_server = mapping_node(SITES.replace(site_a, f"{site_a}\naccept-more-specifics = true"))
    etr.on_timer(0.0)
    for host in range(1, 1001):
        etr.saw_local_source(0, 6, int(ip_address("2001:db8:1::")) + host, 0.1)
    session = etr.sessions[0]
    session.trigger(1.0)
    registers = sends(etr.on_timer(1.0))
    assert len(registers) > 40
    assert all(len(r.payload) + 48 + 52 <= 1500 for r in registers)  # IPv6 + UDP, an ECM
    notifies = []
    for register in registers:
        notifies += sends(deliver(map_server, register.payload, 1.1, source=LISP1))
    assert len(notifies) == len(registers)
    shown = map_server.show("registrations", None, 1.1)
    assert isinstance(shown, list) and len(shown) == 1001  # the static prefix, every host
    for notify in notifies[:-1]:
        notify_to(etr, notify.payload, 1.2)
    assert session.state == "pending"
    notify_to(etr, notifies[-1].payload, 1.3)
    assert session.state == "registered"
