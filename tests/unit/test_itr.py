"""ITR role: eligibility, map-cache hits and misses, Map-Requests, replies, queues, expiry."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, ip_address

from helpers.xtr_fixtures import build_xtr, datagram, icmp, lisp1_config, udp, udp4
from lispstack.capture import build_udp_packet
from lispstack.core.counters import Counters
from lispstack.core.encapsulation import FLAG_L, FLAG_N, decapsulate
from lispstack.core.events import (
    PER_MESSAGE_EVENTS,
    Action,
    ForwardNatively,
    InstallNativeRoute,
    RemoveNativeRoute,
    SendDatagram,
    Trace,
    WriteToTun,
)
from lispstack.core.itr import Itr
from lispstack.core.path_mtu import TOO_BIG_RATE, too_big
from lispstack.wire.address import with_instance_id
from lispstack.wire.control import decode_control
from lispstack.wire.ecm import Ecm
from lispstack.wire.ip_udp import ipv4_udp_unchecked
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import Locator, MappingRecord, MapReplyAction

A = "192.168.1.1"
B = "192.168.2.1"


def sends(actions: list[Action]) -> list[SendDatagram]:
    return [a for a in actions if isinstance(a, SendDatagram)]


def ecm_in(action: SendDatagram) -> Ecm:
    ecm = decode_control(action.payload)
    assert isinstance(ecm, Ecm)
    return ecm


def map_request_in(action: SendDatagram) -> MapRequest:
    request = ecm_in(action).message
    assert isinstance(request, MapRequest)
    return request


def record(
    eid: str,
    mask: int,
    *rlocs: str,
    ttl: int = 1440,
    action: MapReplyAction = MapReplyAction.NO_ACTION,
    iid: int = 0,
) -> MappingRecord:
    return MappingRecord(
        eid=with_instance_id(iid, ip_address(eid)),
        eid_mask_len=mask,
        ttl=ttl,
        action=action,
        authoritative=True,
        locators=tuple(Locator(address=ip_address(r)) for r in rlocs),
    )


def reply(
    nonce: int,
    eid: str,
    mask: int,
    *rlocs: str,
    ttl: int = 1440,
    action: MapReplyAction = MapReplyAction.NO_ACTION,
) -> bytes:
    return replying(nonce, record(eid, mask, *rlocs, ttl=ttl, action=action))


def replying(nonce: int, *records: MappingRecord) -> bytes:
    return MapReply(nonce=nonce, records=records).encode()


def deliver(itr: Itr, payload: bytes, now: float) -> list[Action]:
    message = decode_control(payload)
    return itr.handle_control(message, datagram(payload, "10.0.2.2", 4342, "10.0.1.1", 4342), now)


def test_packet_not_sourced_from_eid_space_is_forwarded_natively_without_map_request() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    packet = icmp("10.0.1.1", "4.2.2.2")
    assert itr.handle_tun(packet, 0.0) == [ForwardNatively(packet)]
    assert counters.get("native.not-eid-source") == 1
    assert counters.get("out.map-request") == 0


def test_miss_sends_one_ecm_map_request_and_queues_packets() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    first = sends(itr.handle_tun(icmp(A, B), 0.0))
    assert len(first) == 1
    ecm = first[0]
    assert (str(ecm.destination), str(ecm.source_address)) == ("10.0.1.254:4342", "10.0.1.1")
    inner = ecm_in(ecm)
    assert (str(inner.source), str(inner.destination)) == ("10.0.1.1", B)
    assert (inner.source_port, inner.destination_port) == (4342, 4342)
    request = map_request_in(ecm)
    assert [str(r) for r in request.itr_rlocs] == ["10.0.1.1"]
    assert str(request.source_eid) == A
    assert request.records[0].eid_text == f"{B}/32"
    assert sends(itr.handle_tun(icmp(A, B, b"second"), 0.5)) == []
    assert counters.get("out.map-request") == 1
    assert itr.client.queued_packets == 2


def test_positive_reply_releases_queued_packets_encapsulated() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    packet = icmp(A, B)
    nonce = map_request_in(sends(itr.handle_tun(packet, 0.0))[0]).nonce
    out = sends(deliver(itr, reply(nonce, "192.168.2.0", 24, "10.0.2.2"), 0.1))
    assert len(out) == 1
    encap = out[0]
    assert str(encap.destination) == "10.0.2.2:4341"
    assert encap.source_address == IPv4Address("10.0.1.1")
    assert 49152 <= encap.source_port <= 65535
    assert encap.payload[0] & (FLAG_N | FLAG_L) == FLAG_N | FLAG_L
    assert decapsulate(encap.payload).inner == packet
    assert decapsulate(encap.payload).lsb == 1
    assert counters.get("reply.positive") == 1
    # the next packet hits the cache directly
    assert len(sends(itr.handle_tun(icmp(A, "192.168.2.7"), 1.0))) == 1
    assert counters.get("encap.packets") == 2
    assert itr.explain(B, 1.0).reason == "map-cache hit 192.168.2.0/24: encapsulate to 10.0.2.2"


def test_reply_with_unknown_nonce_is_dropped() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    itr.handle_tun(icmp(A, B), 0.0)
    assert sends(deliver(itr, reply(12345, "192.168.2.0", 24, "10.0.2.2"), 0.1)) == []
    assert counters.get("drop.map-reply-unknown-nonce") == 1
    assert len(itr.cache) == 0


def test_negative_natively_forward_installs_route_once_and_removes_it_on_expiry() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    packet = icmp(A, "4.2.2.2")
    nonce = map_request_in(sends(itr.handle_tun(packet, 0.0))[0]).nonce
    actions = deliver(
        itr, reply(nonce, "0.0.0.0", 1, ttl=15, action=MapReplyAction.NATIVELY_FORWARD), 0.1
    )
    assert InstallNativeRoute(0, "0.0.0.0/1") in actions
    assert ForwardNatively(packet) in actions
    assert counters.get("reply.negative") == 1
    again = itr.handle_tun(icmp(A, "8.8.8.8"), 1.0)
    assert again == [ForwardNatively(icmp(A, "8.8.8.8"))]
    assert counters.get("out.map-request") == 1
    assert itr.explain("4.2.2.2", 1.0).reason == "map-cache hit 0.0.0.0/1: natively-forward"
    deadline = itr.next_deadline()
    assert deadline is not None and deadline <= 0.1 + 15 * 60
    assert itr.on_timer(0.1 + 15 * 60) == [RemoveNativeRoute(0, "0.0.0.0/1")]
    assert len(itr.cache) == 0


def test_drop_action_is_a_counted_drop() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    nonce = map_request_in(sends(itr.handle_tun(icmp(A, "4.2.2.2"), 0.0))[0]).nonce
    deliver(itr, reply(nonce, "4.0.0.0", 8, ttl=1, action=MapReplyAction.DROP), 0.1)
    assert counters.get("drop.map-cache-drop") == 1


def test_retransmits_after_1_2_4_seconds_then_gives_up() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    first = map_request_in(sends(itr.handle_tun(icmp(A, B), 0.0))[0])
    times: list[float] = []
    now = 0.0
    for _ in range(5):
        deadline = itr.next_deadline()
        assert deadline is not None
        now = deadline
        out = sends(itr.on_timer(now))
        if not out:
            break
        assert map_request_in(out[0]).nonce == first.nonce
        times.append(now)
    assert times == [1.0, 3.0]
    assert counters.get("drop.map-request-timeout") == counters.get("iid.0.dropped") == 1
    assert itr.client.queued_packets == 0


def test_entry_is_refreshed_before_expiry_when_used() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    nonce = map_request_in(sends(itr.handle_tun(icmp(A, B), 0.0))[0]).nonce
    deliver(itr, reply(nonce, "192.168.2.0", 24, "10.0.2.2", ttl=10), 0.0)
    assert len(sends(itr.handle_tun(icmp(A, B), 100.0))) == 1  # no refresh yet
    out = sends(itr.handle_tun(icmp(A, B), 590.0))
    assert [str(a.destination) for a in out] == ["10.0.1.254:4342", "10.0.2.2:4341"]
    assert counters.get("out.map-request") == 2


def test_map_cache_is_bounded_lru() -> None:
    config = lisp1_config(extra="[itr]\nmap-cache-limit = 2\n")
    _, itr, _ = build_xtr(config)
    for i, eid in enumerate(["192.168.2.0", "192.168.3.0", "192.168.4.0"]):
        host = eid[:-1] + "1"
        nonce = map_request_in(sends(itr.handle_tun(icmp(A, host), float(i * 2)))[0]).nonce
        deliver(itr, reply(nonce, eid, 24, "10.0.2.2"), float(i * 2))
    assert [e.prefix_text for e in itr.cache.entries()] == ["192.168.3.0/24", "192.168.4.0/24"]


def test_show_map_cache_and_forwarding() -> None:
    _, itr, _ = build_xtr(lisp1_config())
    assert itr.explain("4.2.2.2 10.0.1.1", 0.0).reason == "source not in EID space: native"
    assert itr.explain("4.2.2.2", 0.0).reason == "miss: Map-Request to 10.0.1.254"
    nonce = map_request_in(sends(itr.handle_tun(icmp(A, B), 0.0))[0]).nonce
    deliver(itr, reply(nonce, "192.168.2.0", 24, "10.0.2.2"), 10.0)
    shown = itr.show("map-cache", B, 70.0)
    assert isinstance(shown, list) and len(shown) == 1
    entry = shown[0]
    assert entry["eid"] == "192.168.2.0/24" and entry["rlocs"][0]["address"] == "10.0.2.2"
    assert (entry["uptime_s"], entry["expires_in_s"], entry["source"]) == (
        60.0,
        1440 * 60 - 60.0,
        "10.0.2.2",
    )
    forwarding = itr.show("forwarding", B, 70.0)
    assert isinstance(forwarding, dict) and forwarding["verdict"] == "encapsulate"


# ------------------------------------------------------------ which records a reply may install


def cached(itr: Itr) -> dict[str, list[str]]:
    return {
        e.prefix_text: [str(r.address) for r in e.rlocs] or [e.action.label]
        for e in itr.cache.entries()
    }


def request_nonce(itr: Itr, dst: str, now: float = 0.0) -> int:
    return map_request_in(sends(itr.handle_tun(icmp(A, dst), now))[0]).nonce


def test_reply_records_that_do_not_cover_the_requested_eid_are_dropped() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    nonce = request_nonce(itr, B)
    hijack = replying(
        nonce,
        record("192.168.3.0", 24, "10.6.6.6"),  # another site's prefix
        record("10.0.0.0", 8, "10.6.6.6"),
        record("0.0.0.0", 1, "10.6.6.6"),
        record("192.168.2.0", 24, "10.0.2.2"),
    )
    out = sends(deliver(itr, hijack, 0.1))
    assert cached(itr) == {"192.168.2.0/24": ["10.0.2.2"]}
    assert [str(a.destination) for a in out] == ["10.0.2.2:4341"]
    assert counters.get("drop.map-reply-record-not-covering") == 3


def test_only_the_most_specific_covering_record_is_installed() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    nonce = request_nonce(itr, B)
    deliver(
        itr,
        replying(
            nonce,
            record("128.0.0.0", 1, ttl=1440, action=MapReplyAction.NATIVELY_FORWARD),
            record("192.168.2.0", 24, "10.0.2.2"),
            record("192.168.0.0", 16, "10.6.6.6"),
        ),
        0.1,
    )
    assert cached(itr) == {"192.168.2.0/24": ["10.0.2.2"]}
    assert counters.get("drop.map-reply-record-less-specific") == 2


def test_a_reply_cannot_replace_the_mapping_of_a_prefix_it_does_not_cover() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    deliver(itr, reply(request_nonce(itr, "192.168.3.1"), "192.168.3.0", 24, "10.0.3.3"), 0.1)
    nonce = request_nonce(itr, B, 2.0)
    deliver(itr, replying(nonce, record("192.168.3.0", 24, "10.6.6.6")), 2.1)
    assert cached(itr) == {"192.168.3.0/24": ["10.0.3.3"]}
    assert counters.get("drop.map-reply-no-covering-record") == 1
    # the request stays outstanding: a good answer with its nonce still resolves it
    deliver(itr, reply(nonce, "192.168.2.0", 24, "10.0.2.2"), 2.2)
    assert cached(itr) == {"192.168.2.0/24": ["10.0.2.2"], "192.168.3.0/24": ["10.0.3.3"]}


def test_a_record_of_another_instance_id_is_dropped() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    nonce = request_nonce(itr, B)
    deliver(itr, replying(nonce, record("192.168.2.0", 24, "10.6.6.6", iid=7)), 0.1)
    assert cached(itr) == {}
    assert counters.get("drop.map-reply-record-other-instance") == 1


def test_a_less_specific_covering_record_is_installed_beside_a_more_specific_entry() -> None:
    _, itr, _ = build_xtr(lisp1_config())
    deliver(itr, reply(request_nonce(itr, B), "192.168.2.0", 24, "10.0.2.2"), 0.1)
    deliver(itr, reply(request_nonce(itr, "192.168.5.1", 2.0), "192.168.0.0", 16, "10.0.5.5"), 2.1)
    assert cached(itr) == {"192.168.0.0/16": ["10.0.5.5"], "192.168.2.0/24": ["10.0.2.2"]}
    assert itr.explain(B, 3.0).rloc == "10.0.2.2"
    assert itr.explain("192.168.7.1", 3.0).rloc == "10.0.5.5"


# ------------------------------------------------------------ native routes follow the map-cache


def test_a_positive_reply_replacing_a_natively_forwarded_prefix_removes_its_route() -> None:
    _, itr, _ = build_xtr(lisp1_config())
    negative = reply(
        request_nonce(itr, "4.2.2.2"), "0.0.0.0", 1, ttl=1, action=MapReplyAction.NATIVELY_FORWARD
    )
    assert InstallNativeRoute(0, "0.0.0.0/1") in deliver(itr, negative, 0.1)
    # expired (not yet swept): the next packet asks again, and the answer is now positive
    positive = reply(request_nonce(itr, "4.2.2.2", 70.0), "0.0.0.0", 1, "10.0.9.9")
    actions = deliver(itr, positive, 70.1)
    assert RemoveNativeRoute(0, "0.0.0.0/1") in actions
    assert itr.shutdown(71.0) == []


def test_a_native_prefix_holding_a_positive_entry_gets_no_route_until_that_entry_goes() -> None:
    _, itr, _ = build_xtr(lisp1_config())
    deliver(itr, reply(request_nonce(itr, "10.1.1.1"), "10.1.0.0", 16, "10.0.9.9", ttl=1), 0.1)
    negative = reply(
        request_nonce(itr, "4.2.2.2", 1.0),
        "0.0.0.0",
        1,
        ttl=15,
        action=MapReplyAction.NATIVELY_FORWARD,
    )
    actions = deliver(itr, negative, 1.1)
    # a throw route for 0.0.0.0/1 would send 10.1.0.0/16 natively past its mapping
    assert InstallNativeRoute(0, "0.0.0.0/1") not in actions
    assert ForwardNatively(icmp(A, "4.2.2.2")) in actions
    assert itr.on_timer(61.0) == [InstallNativeRoute(0, "0.0.0.0/1")]
    assert itr.shutdown(62.0) == [RemoveNativeRoute(0, "0.0.0.0/1")]


# ------------------------------------------------------------ timers and logs


def test_a_deadline_at_time_zero_is_a_deadline() -> None:
    _, itr, _ = build_xtr(lisp1_config())
    itr.cache.insert(record("192.168.2.0", 24, "10.0.2.2", ttl=1), -60.0, "test")
    assert itr.next_deadline() == 0.0


def test_drops_of_map_requests_are_logged_again_after_the_log_interval() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    itr.client.resolvers = (ip_address("2001:db8::1"),)  # no IPv6 RLOC of ours to send from
    logged = []
    for now in (100.0, 101.0, 200.0):
        actions = itr.handle_tun(icmp(A, f"192.168.{int(now) % 250}.1"), now)
        logged += [a for a in actions if isinstance(a, Trace) and a.event == "drop"]
    assert counters.get("drop.no-rloc-for-map-resolver") == 3
    assert len(logged) == 2


def test_a_ttl_zero_answer_forwards_the_waiting_packets_once_and_is_not_cached() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    nonce = request_nonce(itr, B)
    out = sends(deliver(itr, reply(nonce, "192.168.2.0", 24, "10.0.2.2", ttl=0), 2.0))
    assert [str(a.destination) for a in out] == ["10.0.2.2:4341"]
    assert len(itr.cache) == 0 and counters.get("out.map-request") == 1


def test_a_reply_completes_every_request_its_prefix_covers() -> None:
    _, itr, _ = build_xtr(lisp1_config())
    nonce = request_nonce(itr, B)
    request_nonce(itr, "192.168.2.9", 0.1)
    request_nonce(itr, "192.168.3.9", 0.2)
    out = sends(deliver(itr, reply(nonce, "192.168.2.0", 24, "10.0.2.2"), 0.3))
    assert [str(a.destination) for a in out] == ["10.0.2.2:4341", "10.0.2.2:4341"]
    assert [str(p.eid) for p in itr.client.pending_list()] == ["192.168.3.9"]


def test_a_reply_that_changes_a_cached_mapping_is_a_state_change_not_a_per_message_event() -> None:
    _, itr, _ = build_xtr(lisp1_config())
    first = reply(request_nonce(itr, B), "192.168.2.0", 24, "10.0.2.2", ttl=1)
    traces = [a for a in deliver(itr, first, 0.0) if isinstance(a, Trace)]
    assert [t.event for t in traces] == ["map-cache-add"]
    assert "map-cache-add" in PER_MESSAGE_EVENTS
    same = reply(request_nonce(itr, B, 61.0), "192.168.2.0", 24, "10.0.2.2", ttl=1)
    assert [a.event for a in deliver(itr, same, 61.0) if isinstance(a, Trace)] == ["map-cache-add"]
    moved = reply(request_nonce(itr, B, 122.0), "192.168.2.0", 24, "10.0.3.3", ttl=1)
    changes = [a for a in deliver(itr, moved, 122.0) if isinstance(a, Trace)]
    assert [(t.event, t.fields["was"], t.fields["now"]) for t in changes] == [
        ("map-cache-change", "10.0.2.2", "10.0.3.3")
    ]
    assert "map-cache-change" not in PER_MESSAGE_EVENTS


# ---------------------------------------------------------------- rloc-path-mtu


def cached_itr(mtu: int = 1400) -> tuple[Itr, Counters]:
    _, itr, counters = build_xtr(lisp1_config(extra=f"[itr]\nrloc-path-mtu = {mtu}\n"))
    nonce = map_request_in(sends(itr.handle_tun(udp4(100), 0.0))[0]).nonce
    deliver(itr, reply(nonce, "192.168.2.0", 24, "10.0.2.2"), 0.1)
    return itr, counters


def test_a_packet_that_fits_goes_whole() -> None:
    itr, counters = cached_itr(1400)
    packet = udp4(1364)  # 1364 + 36 = 1400
    (out,) = itr.handle_tun(packet, 1.0)
    assert isinstance(out, SendDatagram)
    assert decapsulate(out.payload).inner == packet
    assert counters.get("icmp-too-big-sent") == 0


def test_a_df_packet_too_big_is_dropped_and_its_source_told_the_size_that_fits() -> None:
    itr, counters = cached_itr(1400)
    packet = udp4(1365)
    actions = itr.handle_tun(packet, 1.0)
    assert sends(actions) == []
    assert [a for a in actions if isinstance(a, WriteToTun)] == [WriteToTun(too_big(packet, 1364))]
    assert counters.get("icmp-too-big-sent") == 1
    assert counters.get("drop.too-big") == 1
    assert counters.get("encap.packets") == 1  # the first, queued one


def test_an_ipv4_packet_without_df_is_sent_as_fragments() -> None:
    itr, counters = cached_itr(1400)
    packet = udp4(1500, df=False)
    out = sends(itr.handle_tun(packet, 1.0))
    inner = [decapsulate(o.payload).inner for o in out]
    assert len(inner) == 2 and all(len(i) + 36 <= 1400 for i in inner)
    assert inner[0][20:] + inner[1][20:] == packet[20:]
    assert {(o.destination, o.source_port) for o in out} == {
        (out[0].destination, out[0].source_port)
    }
    assert counters.get("encap.inner-fragmented") == 1


def test_too_big_messages_are_rate_limited() -> None:
    itr, counters = cached_itr(1400)
    for _ in range(int(TOO_BIG_RATE) + 50):
        itr.handle_tun(udp4(1500), 2.0)
    assert counters.get("icmp-too-big-sent") == TOO_BIG_RATE
    assert counters.get("icmp-too-big-rate-limited") == 50
    assert counters.get("drop.too-big") == TOO_BIG_RATE + 50


def test_reload_changes_the_path_mtu() -> None:
    itr, counters = cached_itr(1400)
    itr.reconfigure(lisp1_config(extra="[itr]\nrloc-path-mtu = 1600\n"), 1.0)
    assert len(sends(itr.handle_tun(udp4(1500), 1.0))) == 1
    assert counters.get("drop.too-big") == 0


# ---------------------------------------------------------------- the common-packet path


def twin_itrs() -> tuple[tuple[Itr, Counters], tuple[Itr, Counters]]:
    """Two ITRs with the same seed and the same map-cache."""
    twins = []
    for _ in range(2):
        _, itr, counters = build_xtr(lisp1_config(extra="[itr]\nrloc-path-mtu = 1400\n"))
        for entry in (
            record("192.168.2.0", 24, "10.0.2.2"),
            record("192.168.3.0", 24, "10.0.3.3", "10.0.4.4"),
            record("192.168.4.0", 24, "10.0.4.4", ttl=1),  # due for a refresh at once
            record("192.168.5.0", 24, "fd00::5"),  # no RLOC of a family we have
            record("192.168.6.0", 24, action=MapReplyAction.NATIVELY_FORWARD),
            record("192.168.7.0", 24, action=MapReplyAction.DROP),
        ):
            itr.cache.insert(entry, 0.0, "test")
        twins.append((itr, counters))
    return twins[0], twins[1]


def test_the_common_packet_path_sends_what_handle_tun_would() -> None:
    (fast, fast_counters), (general, general_counters) = twin_itrs()
    packets = [
        *(udp4(size) for size in (28, 100, 1364, 1365)),
        *(icmp(A, f"192.168.{site}.{host}") for site in range(2, 9) for host in (1, 77, 200)),
        icmp("10.0.1.1", B),  # not from an EID
        icmp(A, B)[:19],  # malformed
        build_udp_packet("fd00:1::1", "fd00:2::1", 1, 2, b"v6"),
        *(udp(A, B, port, 9000) for port in range(40000, 40020)),
    ]
    taken = 0
    for packet in packets:
        outer = fast.encapsulate_ipv4(packet, 0, 30.0)
        expected = general.handle_tun(packet, 30.0, 0)
        if outer is None:
            assert fast.handle_tun(packet, 30.0, 0) == expected
            continue
        taken += 1
        (send,) = expected
        assert isinstance(send, SendDatagram) and send.source_address is not None
        assert outer == (
            ipv4_udp_unchecked(
                send.source_address.packed,
                send.destination.address.packed,
                send.source_port,
                send.destination.port,
                send.payload,
            ),
            str(send.destination.address),
        )
    assert taken == 3 + 6 + 20  # fits, to 192.168.2/24 and 192.168.3/24, the UDP flows
    assert fast_counters.snapshot() == general_counters.snapshot()


def test_locator_status_bits_describe_our_own_rlocs_not_the_destinations() -> None:
    """RFC 9300 section 10: the L bits are the encapsulating site's locators, in the
    order of its own mapping record: two RLOCs of ours give 0b11 to a one-RLOC peer,
    on the general path, the one-call path and in a kernel map-cache entry."""
    two_rlocs = lisp1_config().database_mappings[0]
    config = replace(
        lisp1_config(),
        database_mappings=(
            replace(
                two_rlocs,
                rlocs=(
                    *two_rlocs.rlocs,
                    replace(two_rlocs.rlocs[0], address=ip_address("10.0.3.1")),
                ),
            ),
        ),
    )
    _, itr, _ = build_xtr(config)
    nonce = map_request_in(sends(itr.handle_tun(icmp(A, B), 0.0))[0]).nonce
    (encap,) = sends(deliver(itr, reply(nonce, "192.168.2.0", 24, "10.0.2.2"), 0.1))
    assert decapsulate(encap.payload).lsb == 0b11
    one_call = itr.encapsulate_ipv4(icmp(A, B), 0, 0.2)
    assert one_call is not None and decapsulate(one_call[0][28:]).lsb == 0b11
    entry = itr.cache.lookup(0, 4, int(ip_address(B)), 0.2)
    assert entry is not None and itr.step_for(entry)[2] == 0b11 and entry.lsb == 0b1
