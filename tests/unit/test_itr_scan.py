"""An ITR scanned with 200,000 destinations keeps every table within its bound.

One EID host sends to 200,000 distinct destinations, 1,000 a (virtual) second;
a quarter of the Map-Requests get a host-route answer, the rest time out. The
map-cache (limit 1,000), its expiry heap, the outstanding Map-Requests, the
packets queued for them, the recent-request table and the drop-log table stay
within their bounds, and the drops are logged per source, not per destination.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from helpers.xtr_fixtures import build_xtr, datagram, icmp, lisp1_config
from lispstack.core.events import Trace
from lispstack.core.resolver_client import MAX_PENDING, QUEUE_TOTAL
from lispstack.wire.map_reply import MapReply
from lispstack.wire.records import Locator, MappingRecord

SCAN = 200_000
LIMIT = 1000


def test_a_scan_of_200000_destinations_keeps_the_itr_bounded() -> None:
    _, itr, counters = build_xtr(lisp1_config(extra=f"[itr]\nmap-cache-limit = {LIMIT}\n"))
    answer = datagram(b"", "10.0.2.2", 4342, "10.0.1.1", 4342)
    locators = (Locator(address=IPv4Address("10.0.2.2")),)
    drop_logs = 0
    for index in range(SCAN):
        now = index / 1000
        destination = IPv4Address(0x0A000000 + index * 7)
        actions = itr.handle_tun(icmp("192.168.1.1", str(destination)), now)
        pending = itr.client.pending((0, destination))
        if pending is not None and index % 4 == 0:
            record = MappingRecord(eid=destination, eid_mask_len=32, locators=locators)
            actions += itr.handle_control(
                MapReply(nonce=pending.nonce, records=(record,)), answer, now
            )
        deadline = itr.next_deadline()
        if deadline is not None and deadline <= now:
            actions += itr.on_timer(now)
        drop_logs += sum(1 for a in actions if isinstance(a, Trace) and a.event == "drop")
        if index % 997 == 0:
            assert len(itr.cache) <= LIMIT
            assert itr.cache.expiry_backlog() <= 2 * LIMIT + 64 + 1
            assert len(itr.client) <= MAX_PENDING
            assert itr.client.queued_packets <= QUEUE_TOTAL
            assert itr.client.recent_requests() <= MAX_PENDING
            assert itr.client.deadline_backlog() <= 2 * MAX_PENDING + 64 + 1
    queued = sum(len(p.queue) for p in itr.client.pending_list())
    assert queued == itr.client.queued_packets
    assert len(itr.cache) == LIMIT
    assert counters.get("reply.positive") >= SCAN // 8
    assert counters.get("drop.map-request-timeout") > 0
    assert itr.drops.remembered() <= 4096
    # one source, a handful of reasons, 200 virtual seconds: a few log lines, not thousands
    assert drop_logs <= 40
