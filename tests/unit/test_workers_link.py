"""The links between workers: replicas in order through a full buffer, merged counters."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address, IPv6Address

from lispstack.core.events import Endpoint
from lispstack.io.workers import decode_replica, encode_replica, link_workers

ETR = Endpoint(IPv4Address("10.0.2.2"), 61000)


def test_replicas_arrive_complete_and_in_order_through_a_full_buffer() -> None:
    async def scenario() -> tuple[list[bytes], list[str]]:
        sender, receiver = link_workers(2, buffer_bytes=4096)
        counted: list[str] = []
        sender.start(lambda payload, source: None, dict, counted.append)
        payloads = [bytes([0x30]) + index.to_bytes(4, "big") * 100 for index in range(300)]
        for payload in payloads:  # far more than the buffer holds: most wait in the backlog
            sender.replicate(payload, ETR)
        received: list[bytes] = []
        done = asyncio.Event()

        def apply(payload: bytes, source: Endpoint) -> None:
            assert source == ETR
            received.append(payload)
            if len(received) == len(payloads):
                done.set()

        receiver.start(apply, dict, counted.append)
        await asyncio.wait_for(done.wait(), 10)
        sender.close()
        receiver.close()
        return received, counted

    received, counted = asyncio.run(scenario())
    assert [int.from_bytes(p[1:5], "big") for p in received] == list(range(300))
    assert counted == []


def test_statistics_sum_every_worker_keep_the_gone_and_name_the_silent() -> None:
    async def scenario() -> list[dict[str, int]]:
        zero, one, two = link_workers(3)
        for link, counters in ((one, {"in.ecm": 5, "reply.proxy": 2}), (two, {"in.ecm": 7})):
            link.start(lambda payload, source: None, lambda c=counters: c, lambda name: None)
        zero.start(lambda payload, source: None, dict, lambda name: None)
        everyone = await zero.statistics({"in.ecm": 1, "workers.exited": 0})
        two.close()  # gone: its ends of the pairs are closed
        without_two = await zero.statistics({"in.ecm": 1})
        one.close()
        without_any = await zero.statistics({"in.ecm": 1})
        silent_zero, talking, silent = link_workers(3)  # `silent` never reads
        talking.start(lambda payload, source: None, lambda: {"in.ecm": 5}, lambda name: None)
        silent_zero.start(lambda payload, source: None, dict, lambda name: None)
        with_a_silent_one = await silent_zero.statistics({"in.ecm": 1})
        for link in (zero, one, silent_zero, talking, silent):
            link.close()
        return [everyone, without_two, without_any, with_a_silent_one]

    everyone, without_two, without_any, with_a_silent_one = asyncio.run(scenario())
    assert everyone == {"in.ecm": 13, "reply.proxy": 2, "workers.exited": 0}
    # Worker two's last answer still counts once it is gone (not twice).
    assert without_two == without_any == {"in.ecm": 13, "reply.proxy": 2}
    assert with_a_silent_one == {"in.ecm": 6, "workers.unanswered": 1}


def test_replica_frames_round_trip() -> None:
    for source in (ETR, Endpoint(IPv6Address("2001:db8::2"), 4342)):
        assert decode_replica(encode_replica(b"\x30register", source)) == (b"\x30register", source)


def test_counters_refreshed_in_the_background_outlive_their_worker() -> None:
    async def scenario() -> dict[str, int]:
        zero, one = link_workers(2)
        one.start(lambda payload, source: None, lambda: {"in.ecm": 5}, lambda name: None)
        zero.start(lambda payload, source: None, dict, lambda name: None)
        zero.refresh_counters()  # no `show statistics` was ever asked
        for _ in range(100):
            await asyncio.sleep(0.01)
            if zero._last_answers:
                break
        one.close()
        total = await zero.statistics({"in.ecm": 1})
        zero.close()
        return total

    assert asyncio.run(scenario()) == {"in.ecm": 6}
