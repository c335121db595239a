"""Echo-nonce reachability (RFC 9300 section 10.1, `[itr] echo-nonce`), on virtual clocks."""

from __future__ import annotations

import random
from ipaddress import ip_address

from test_rloc_probe import (
    BACKUP,
    INTERVAL,
    LSB_PRIMARY_DOWN,
    PRIMARY,
    A,
    B,
    answer,
    data_from,
    multihomed,
    probes_in,
    resolve,
    run,
)

from helpers.xtr_fixtures import build_xtr, datagram, icmp, lisp1_config
from lispstack.core.echo_nonce import ECHO_TIMEOUT, EchoNonce
from lispstack.core.encapsulation import data_header, decapsulate
from lispstack.core.etr import Etr
from lispstack.core.events import SendDatagram, WriteToTun
from lispstack.core.itr import Itr
from lispstack.wire.data_header import FLAG_E, DataHeader, echo_request_header

RLOC = ip_address("10.0.2.2")
OTHER = ip_address("10.0.3.3")


def test_echo_request_header_golden_bytes() -> None:
    assert echo_request_header(0x123456, 0b11).hex() == "e012345600000003"
    assert echo_request_header(0x123456, 0b11, 5).hex() == "e812345600000503"
    checked = DataHeader(nonce_present=True, lsb_present=True, echo_nonce=True, nonce=0x123456)
    assert echo_request_header(0x123456, 0) == checked.encode()


def test_a_request_at_most_once_a_second_per_rloc_and_one_outstanding() -> None:
    echo = EchoNonce(random.Random(1))
    first = echo.next_nonce(RLOC, 0.0)
    assert first.echo_request
    assert not echo.next_nonce(RLOC, 0.5).echo_request
    assert echo.next_nonce(OTHER, 0.5).echo_request  # per RLOC
    assert not echo.next_nonce(RLOC, 1.5).echo_request  # still outstanding
    assert echo.received(RLOC, first.nonce, False)  # echoed
    assert not echo.received(RLOC, first.nonce, False)  # once
    assert echo.next_nonce(RLOC, 1.6).echo_request


def test_an_echo_owed_goes_out_first_and_once() -> None:
    echo = EchoNonce(random.Random(1))
    assert echo.wanted(RLOC, 0xABCDEF, True)
    assert not echo.received(RLOC, 0xABCDEF, True)
    owed = echo.next_nonce(RLOC, 0.0)
    assert (owed.nonce, owed.echo_request) == (0xABCDEF, False)
    assert echo.sizes()["to-echo"] == 0


def test_an_unechoed_request_is_reported_once_after_the_timeout() -> None:
    echo = EchoNonce(random.Random(1))
    request = echo.next_nonce(RLOC, 10.0)
    assert echo.next_deadline() == 10.0 + ECHO_TIMEOUT
    assert echo.unanswered(10.0 + ECHO_TIMEOUT - 0.01) == []
    assert not echo.wanted(RLOC, request.nonce ^ 1, False)  # not our nonce
    assert echo.unanswered(10.0 + ECHO_TIMEOUT) == [RLOC]
    assert echo.unanswered(20.0) == [] and echo.next_deadline() is None


def echo_xtr(misses: int = 3) -> tuple[Etr, Itr]:
    extra = (
        f"[itr]\nrloc-probe-interval = {INTERVAL}\nrloc-probe-misses = {misses}\n"
        "echo-nonce = true\n"
    )
    etr, itr, _ = build_xtr(lisp1_config(extra=extra))
    resolve(itr, multihomed())
    return etr, itr


def answered_round(itr: Itr) -> None:
    """The entry's first round, its probes answered: probe states, nothing outstanding."""
    for _, action in run(itr, 0.0, INTERVAL + 0.001, use=False):
        for address, probe in probes_in([action]):
            answer(itr, probe, INTERVAL, address)


def sent_to_b(itr: Itr, now: float) -> SendDatagram:
    out = [a for a in itr.handle_tun(icmp(A, B), now) if isinstance(a, SendDatagram)]
    assert len(out) == 1 and str(out[0].destination.address) == PRIMARY
    return out[0]


def test_echo_round_trip_confirms_the_rloc_as_an_answered_probe() -> None:
    etr, itr = echo_xtr(misses=3)
    answered_round(itr)
    etr.handle_data(data_from(BACKUP, LSB_PRIMARY_DOWN), INTERVAL + 0.5)  # a probe ...
    run(itr, INTERVAL + 0.5, 2 * INTERVAL + 0.001, use=False)  # ... missed
    key = itr.prober.keys_of(RLOC)[0]
    state = itr.prober.state(key, RLOC)
    assert state is not None and state.misses == 1 and state.reachable
    now = 2 * INTERVAL + 1.0
    requests = itr.counters.get("echo-nonce.request")
    request = decapsulate(sent_to_b(itr, now).payload)
    assert request.flags & FLAG_E and request.nonce is not None
    assert itr.counters.get("echo-nonce.request") == requests + 1
    later = decapsulate(sent_to_b(itr, now + 0.1).payload)
    assert not later.flags & FLAG_E  # one request a second
    # The site's ETR echoes the nonce in a data packet back (N bit, E clear).
    echo = datagram(
        data_header(request.nonce, 0b11, 0) + icmp(B, A), PRIMARY, 61000, "10.0.1.1", 4341
    )
    assert etr.decapsulate_data(echo.payload, echo.source, now + 0.2) is None  # handle_data's
    assert etr.handle_data(echo, now + 0.2) == [WriteToTun(icmp(B, A), 0)]
    assert itr.counters.get("echo-nonce.echoed") == 1
    assert state.misses == 0
    # Other packets from the RLOC stay on the one-call path.
    other = datagram(data_header(0x1, 0b11, 0) + icmp(B, A), PRIMARY, 61000, "10.0.1.1", 4341)
    assert etr.decapsulate_data(other.payload, other.source, now + 0.3) == (icmp(B, A), 0)


def test_an_echo_request_received_is_echoed_in_the_next_packet_to_that_rloc() -> None:
    etr, itr = echo_xtr()
    asked = data_header(0x00BEEF, 0b11, 0)
    asked = bytes((asked[0] | FLAG_E,)) + asked[1:]
    packet = datagram(asked + icmp(B, A), PRIMARY, 61000, "10.0.1.1", 4341)
    assert etr.decapsulate_data(packet.payload, packet.source, 1.0) is None
    etr.handle_data(packet, 1.0)
    echoed = decapsulate(sent_to_b(itr, 1.1).payload)
    assert echoed.nonce == 0x00BEEF and not echoed.flags & FLAG_E
    assert decapsulate(sent_to_b(itr, 1.2).payload).nonce != 0x00BEEF  # echoed once


def test_no_echo_in_time_probes_the_rloc_and_never_takes_it_down_by_itself() -> None:
    _, itr = echo_xtr(misses=1)
    answered_round(itr)
    now = INTERVAL + 1.0
    sent_to_b(itr, now)  # an echo request, never echoed
    assert itr.next_deadline() == now + ECHO_TIMEOUT
    assert probes_in(itr.on_timer(now + ECHO_TIMEOUT - 0.01)) == []
    probes = probes_in(itr.on_timer(now + ECHO_TIMEOUT))
    assert [address for address, _ in probes] == [PRIMARY]
    assert itr.counters.get("echo-nonce.probe-triggered") == 1
    assert itr.gauges()["rlocs-unreachable"] == 0  # the probe decides, not the silence


def test_an_echo_brings_an_unreachable_rloc_back_as_an_answered_probe_would() -> None:
    _, itr = echo_xtr(misses=1)
    run(itr, 0.0, INTERVAL + 0.001)  # probes, never answered
    run(itr, INTERVAL + 0.001, 3 * INTERVAL, use=False)  # missed: both down
    assert itr.gauges()["rlocs-unreachable"] == 2
    back = itr.nonce_seen(RLOC, 0, False, 3 * INTERVAL)
    assert back == []  # not an echo of ours: nothing
    changes = itr.prober.confirmed(RLOC)
    assert [(str(c.address), c.reachable) for c in changes] == [(PRIMARY, True)]
    assert itr.prober.confirmed(RLOC) == []  # already up
