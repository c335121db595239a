"""Captures for the ladder diagram: the lispers.net messages replayed between the seed lab's
addresses, as a lab capture records them (messages routed by the Map-Server twice)."""

from __future__ import annotations

from pathlib import Path

from lispstack.capture import build_udp_packet, read_capture
from lispstack.wire import DataHeader, DataPacket

CAPTURES = Path(__file__).parents[1] / "vectors" / "captures"
LIG = CAPTURES / "lispersnet-04-lig-ipv6-and-iid.pcap"
LISP1, MS_A, MS_B, LISP2 = "10.0.1.1", "10.0.1.254", "10.0.2.254", "10.0.2.2"
ROUTED = 0.0002
"""The Map-Server routes a packet between lisp1 and lisp2: each link records it, this much
later and with one hop fewer to live on the second."""


def data_payload(src: str = "192.168.1.1", dst: str = "192.168.2.1") -> bytes:
    inner = build_udp_packet(src, dst, 40000, 7, b"ping")
    return DataPacket(header=DataHeader(nonce_present=True, nonce=0xABCDEF), inner=inner).encode()


def seed_story(start: float = 1_700_000_000.0) -> list[tuple[bytes, float]]:
    """ECM Map-Request lisp1 -> Map-Server, forwarded to lisp2, Map-Reply lisp2 -> lisp1
    (recorded on both links), three data packets lisp1 -> lisp2 (each recorded twice), the
    second Map-Request's exchange, one more data packet."""
    payloads = [d.payload for d in read_capture(LIG).datagrams]
    hops = [(LISP1, MS_A), (MS_B, LISP2), (LISP2, LISP1)]
    packets: list[tuple[bytes, float]] = []
    when = start

    def send(src: str, dst: str, sport: int, dport: int, payload: bytes) -> None:
        nonlocal when
        when += 0.01
        packets.append((build_udp_packet(src, dst, sport, dport, payload), when))
        if {src, dst} == {LISP1, LISP2}:
            routed = build_udp_packet(src, dst, sport, dport, payload, ttl=63)
            packets.append((routed, when + ROUTED))

    for payload, (src, dst) in zip(payloads[:3], hops, strict=True):
        send(src, dst, 4342, 4342, payload)
    for _ in range(3):
        send(LISP1, LISP2, 61000, 4341, data_payload())
    for payload, (src, dst) in zip(payloads[3:], hops, strict=True):
        send(src, dst, 4342, 4342, payload)
    send(LISP1, LISP2, 61000, 4341, data_payload())
    return packets
