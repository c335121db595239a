"""RLOC probing (RFC 9301 section 7.1): probes, answers and RTT, misses, failover, rate."""

from __future__ import annotations

from ipaddress import ip_address
from itertools import pairwise

from helpers.xtr_fixtures import build_xtr, datagram, icmp, lisp1_config
from lispstack.cli.tables import render
from lispstack.core.encapsulation import data_header, decapsulate
from lispstack.core.etr import Etr
from lispstack.core.events import Action, DatagramReceived, SendDatagram, Trace, WriteToTun
from lispstack.core.itr import Itr
from lispstack.wire.control import decode_control
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import Locator, MappingRecord

A = "192.168.1.1"
B = "192.168.2.1"
PRIMARY, BACKUP = "10.0.2.2", "10.0.3.3"
INTERVAL = 10


def probing_itr(interval: int = INTERVAL, misses: int = 3, rate: int = 100) -> Itr:
    extra = (
        f"[itr]\nrloc-probe-interval = {interval}\nrloc-probe-misses = {misses}\n"
        f"rloc-probe-rate = {rate}\n"
    )
    _, itr, _ = build_xtr(lisp1_config(extra=extra))
    return itr


def multihomed(eid: str = "192.168.2.0", mask: int = 24) -> MappingRecord:
    return MappingRecord(
        eid=ip_address(eid),
        eid_mask_len=mask,
        ttl=1440,
        authoritative=True,
        locators=(
            Locator(address=ip_address(PRIMARY), priority=1, weight=100),
            Locator(address=ip_address(BACKUP), priority=2, weight=100),
        ),
    )


def deliver(itr: Itr, payload: bytes, now: float, source: str = PRIMARY) -> list[Action]:
    message = decode_control(payload)
    return itr.handle_control(message, datagram(payload, source, 4342, "10.0.1.1", 4342), now)


def resolve(itr: Itr, *records: MappingRecord) -> None:
    """Cache `records` as answers to a miss at time 0."""
    for record in records:
        destination = str(ip_address(str(record.eid)) + 1)
        sent = [a for a in itr.handle_tun(icmp(A, destination), 0.0) if isinstance(a, SendDatagram)]
        ecm = decode_control(sent[0].payload)
        assert isinstance(ecm, Ecm) and isinstance(ecm.message, MapRequest)
        deliver(itr, MapReply(nonce=ecm.message.nonce, records=(record,)).encode(), 0.0)


def encapsulated_to(itr: Itr, now: float) -> str | None:
    out = [a for a in itr.handle_tun(icmp(A, B), now) if isinstance(a, SendDatagram)]
    if not out:
        return None
    assert decapsulate(out[0].payload).inner == icmp(A, B)
    return str(out[0].destination.address)


def probes_in(actions: list[Action]) -> list[tuple[str, MapRequest]]:
    found = []
    for action in actions:
        if isinstance(action, SendDatagram) and action.destination.port == 4342:
            message = decode_control(action.payload)
            if isinstance(message, MapRequest) and message.probe:
                found.append((str(action.destination.address), message))
    return found


def run(itr: Itr, start: float, end: float, *, use: bool = True) -> list[tuple[float, Action]]:
    """Fire the ITR's timer at every deadline in [start, end) (using the entry first)."""
    out: list[tuple[float, Action]] = []
    now = start
    while True:
        deadline = itr.next_deadline()
        if deadline is None or deadline >= end:
            return out
        now = max(now, deadline)
        if use:
            itr.handle_tun(icmp(A, B), now)
        out.extend((now, a) for a in itr.on_timer(now))


def answer(itr: Itr, probe: MapRequest, now: float, source: str) -> list[Action]:
    return deliver(
        itr, MapReply(nonce=probe.nonce, records=(multihomed(),), probe=True).encode(), now, source
    )


def test_probe_goes_to_the_rloc_itself_and_its_answer_gives_the_rtt() -> None:
    itr = probing_itr()
    resolve(itr, multihomed())
    fired = run(itr, 0.0, INTERVAL + 0.001)
    probes = probes_in([a for _, a in fired])
    assert sorted(address for address, _ in probes) == [PRIMARY, BACKUP]
    sends = [a for _, a in fired if isinstance(a, SendDatagram)]
    assert all(str(s.source_address) == "10.0.1.1" and s.source_port == 4342 for s in sends)
    address, probe = probes[0]
    assert [str(r) for r in probe.itr_rlocs] == ["10.0.1.1"]
    assert probe.records[0].eid_text == "192.168.2.0/24"
    assert not probe.smr and not probe.smr_invoked
    sent_at = next(t for t, a in fired if a in sends and str(a.destination.address) == address)
    assert answer(itr, probe, sent_at + 0.025, address) == []
    shown = itr.show("map-cache", None, sent_at + 1.0)
    assert isinstance(shown, list)
    rlocs = {r["address"]: r["probe"] for r in shown[0]["rlocs"]}
    assert rlocs[address]["state"] == "up"
    assert rlocs[address]["rtt_ms"] == 25.0
    assert rlocs[address]["last_probe_s_ago"] == 1.0
    assert itr.counters.get("in.probe-reply") == 1


def test_probe_reply_with_unknown_nonce_is_dropped_and_counted() -> None:
    itr = probing_itr()
    reply = MapReply(nonce=99, records=(multihomed(),), probe=True).encode()
    assert [a.event for a in deliver(itr, reply, 1.0) if isinstance(a, Trace)] == ["drop"]
    assert itr.counters.get("drop.probe-reply-unknown-nonce") == 1


def test_missed_probes_fail_over_to_priority_two_and_an_answer_brings_the_rloc_back() -> None:
    itr = probing_itr(misses=3)
    resolve(itr, multihomed())
    assert encapsulated_to(itr, 0.0) == PRIMARY
    now = 0.0
    for _ in range(4):  # the primary never answers, the backup always does
        fired = run(itr, now, now + INTERVAL)
        now += INTERVAL
        for address, probe in probes_in([a for _, a in fired]):
            if address == BACKUP:
                answer(itr, probe, now - 0.5, BACKUP)
    events = [a.event for _, a in fired if isinstance(a, Trace)]
    assert "rloc-unreachable" in events
    assert encapsulated_to(itr, now) == BACKUP
    shown = itr.show("map-cache", None, now)
    assert isinstance(shown, list)
    states = {r["address"]: r["probe"]["state"] for r in shown[0]["rlocs"]}
    assert states == {PRIMARY: "down", BACKUP: "up"}
    assert itr.gauges()["rlocs-unreachable"] == 1 and itr.gauges()["rlocs-reachable"] == 1
    # The primary answers again: back in the load-split at once.
    fired = run(itr, now, now + INTERVAL)
    primary = [p for address, p in probes_in([a for _, a in fired]) if address == PRIMARY]
    assert primary
    back = answer(itr, primary[-1], now + INTERVAL - 0.5, PRIMARY)
    assert [a.event for a in back if isinstance(a, Trace)] == ["rloc-reachable"]
    assert itr.gauges()["rlocs-unreachable"] == 0
    assert encapsulated_to(itr, now + INTERVAL) == PRIMARY


def test_entries_not_in_use_are_not_probed() -> None:
    itr = probing_itr()
    resolve(itr, multihomed())
    run(itr, 0.0, INTERVAL, use=False)  # just cached: its first round probes
    fired = run(itr, INTERVAL, 5 * INTERVAL, use=False)
    assert probes_in([a for _, a in fired]) == []


def test_probing_off_sends_nothing_and_sets_no_timer() -> None:
    itr = probing_itr(interval=0)
    resolve(itr, multihomed())
    assert itr.prober.next_deadline() is None
    assert probes_in([a for _, a in run(itr, 0.0, 1000.0)]) == []


def test_probes_never_exceed_the_rate_and_never_come_in_bursts() -> None:
    itr = probing_itr(rate=20)
    resolve(itr, *(multihomed(f"192.168.{i}.0") for i in range(2, 52)))
    fired = run(itr, 0.0, INTERVAL, use=False)  # each entry's first round: 2 probes
    times = [t for t, a in fired if isinstance(a, SendDatagram)]
    probed = {(address, p.records[0].eid_text) for address, p in probes_in([a for _, a in fired])}
    assert len(probed) == 100
    assert all(sum(1 for t in times if start <= t < start + 1) <= 20 for start in times)
    gaps = [b - a for a, b in pairwise(times)]
    assert min(gaps) >= 1 / 20 - 1e-9
    assert max(itr.prober.sizes().values()) <= 100


def test_show_map_cache_table_gives_each_rlocs_state_rtt_and_last_probe() -> None:
    itr = probing_itr()
    resolve(itr, multihomed())
    fired = run(itr, 0.0, INTERVAL + 0.001)
    sent_at = {str(a.destination.address): t for t, a in fired if isinstance(a, SendDatagram)}
    address, probe = next((a, p) for a, p in probes_in([a for _, a in fired]) if a == PRIMARY)
    answer(itr, probe, sent_at[address] + 0.0012, address)
    text = render("map-cache", itr.show("map-cache", None, sent_at[address] + 3.0), None)
    assert f"{PRIMARY} 1/100 up rtt 1.2ms probed 3s ago" in text
    assert f"{BACKUP} 2/100 up probed" in text


def test_an_evicted_entry_leaves_no_probe_state_behind() -> None:
    _, itr, _ = build_xtr(
        lisp1_config(extra="[itr]\nmap-cache-limit = 1\nrloc-probe-interval = 10\n")
    )
    resolve(itr, multihomed())
    run(itr, 0.0, INTERVAL)
    assert itr.prober.sizes()["states"] == 2
    resolve(itr, multihomed("192.168.3.0"))  # evicts 192.168.2.0/24
    assert itr.prober.sizes()["states"] == 0
    assert itr.prober.sizes()["nonces"] == 0
    assert itr.prober.sizes()["rlocs"] == 0


# ---------------------------------------------------------------- locator-status-bits

LSB_PRIMARY_DOWN = 0b10
"""Locator 0 (the primary) down, locator 1 (the backup) up."""


def probing_xtr(misses: int = 3) -> tuple[Etr, Itr]:
    extra = f"[itr]\nrloc-probe-interval = {INTERVAL}\nrloc-probe-misses = {misses}\n"
    etr, itr, _ = build_xtr(lisp1_config(extra=extra))
    resolve(itr, multihomed())
    return etr, itr


def data_from(outer: str, lsb: int) -> DatagramReceived:
    """A data packet from B (site 192.168.2.0/24) to A, its outer source `outer`."""
    payload = data_header(0x123456, lsb, 0) + icmp(B, A)
    return datagram(payload, outer, 61000, "10.0.1.1", 4341)


def test_lsb_from_a_source_not_among_the_sites_rlocs_changes_nothing() -> None:
    etr, itr = probing_xtr()
    packet = data_from("10.9.9.9", LSB_PRIMARY_DOWN)
    assert etr.decapsulate_data(packet.payload, packet.source, 1.0) == (icmp(B, A), 0)
    actions = etr.handle_data(packet, 1.0)
    assert probes_in(actions) == []
    assert itr.counters.get("lsb.probe-triggered") == 0
    assert encapsulated_to(itr, 1.0) == PRIMARY


def test_lsb_agreeing_with_probing_take_the_one_call_path_and_probe_nothing() -> None:
    etr, itr = probing_xtr()
    packet = data_from(PRIMARY, 0b11)
    assert etr.decapsulate_data(packet.payload, packet.source, 1.0) == (icmp(B, A), 0)
    assert probes_in(etr.handle_data(packet, 1.0)) == []
    assert itr.counters.get("lsb.probe-triggered") == 0


def test_lsb_saying_an_rloc_is_down_probes_it_and_an_answer_keeps_it_up() -> None:
    etr, itr = probing_xtr()
    packet = data_from(BACKUP, LSB_PRIMARY_DOWN)
    assert etr.decapsulate_data(packet.payload, packet.source, 1.0) is None  # handle_data's
    actions = etr.handle_data(packet, 1.0)
    assert actions[0] == WriteToTun(icmp(B, A), 0)
    probes = probes_in(actions)
    assert [address for address, _ in probes] == [PRIMARY]
    assert itr.counters.get("lsb.probe-triggered") == 1
    assert encapsulated_to(itr, 1.0) == PRIMARY  # the bits alone change nothing
    # More such packets within the second: no more probes (one outstanding, rate per RLOC).
    assert probes_in(etr.handle_data(packet, 1.5)) == []
    assert answer(itr, probes[0][1], 1.02, PRIMARY) == []
    assert probes_in(etr.handle_data(packet, 1.6)) == []  # answered, but < 1 s since
    assert [a for a, _ in probes_in(etr.handle_data(packet, 2.1))] == [PRIMARY]
    assert itr.counters.get("lsb.probe-triggered") == 2
    assert encapsulated_to(itr, 2.1) == PRIMARY


def test_lsb_triggered_probe_missed_counts_as_a_miss_and_misses_take_the_rloc_down() -> None:
    etr, itr = probing_xtr(misses=1)
    probes = probes_in(etr.handle_data(data_from(BACKUP, LSB_PRIMARY_DOWN), 1.0))
    assert [address for address, _ in probes] == [PRIMARY]
    fired = run(itr, 1.0, INTERVAL + 0.001)  # the entry's round: the probe went unanswered
    assert "rloc-unreachable" in [a.event for _, a in fired if isinstance(a, Trace)]
    assert encapsulated_to(itr, INTERVAL + 0.001) == BACKUP


def test_lsb_saying_an_unreachable_rloc_is_up_probes_it_at_once() -> None:
    etr, itr = probing_xtr(misses=1)
    run(itr, 0.0, INTERVAL + 0.001)  # probes, never answered
    run(itr, INTERVAL + 0.001, 3 * INTERVAL, use=False)  # missed; then out of use: no probes
    assert itr.gauges()["rlocs-unreachable"] == 2
    now = 3 * INTERVAL
    probes = probes_in(etr.handle_data(data_from(PRIMARY, 0b11), now))
    assert sorted(address for address, _ in probes) == [PRIMARY]  # one at a time: the rate
    assert [address for address, _ in probes_in(itr.on_timer(now + 0.01))] == [BACKUP]
    assert itr.counters.get("lsb.probe-triggered") == 2
    back = answer(itr, probes[0][1], now + 0.01, PRIMARY)
    assert [a.event for a in back if isinstance(a, Trace)] == ["rloc-reachable"]
    assert encapsulated_to(itr, now + 0.02) == PRIMARY
