"""The captures of other implementations (lispers.net, Open Overlay Router; copies in
tests/vectors/captures) read as tshark reads them."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest

from lispstack.capture import read_capture

CAPTURES = Path(__file__).parent.parent / "vectors" / "captures"

# frame -> (src, sport, dst, dport, UDP payload length), as `tshark -T fields` shows them
EXPECTED: dict[str, list[tuple[str, int, str, int, int]]] = {
    "lispersnet-02-register-sha1-proxy-reply.pcap": [
        ("10.77.0.12", 36267, "10.77.0.11", 4342, 192),
        ("10.77.0.11", 4342, "10.77.0.12", 36267, 192),
        ("10.77.0.12", 36267, "10.77.0.11", 4342, 60),
    ],
    "lispersnet-03-lig-negative.pcap": [
        ("10.77.0.13", 4342, "10.77.0.11", 4342, 60),
        ("10.77.0.11", 4342, "10.77.0.13", 4342, 28),
        ("10.77.0.13", 4342, "10.77.0.11", 4342, 60),
        ("10.77.0.11", 4342, "10.77.0.13", 4342, 28),
        ("10.77.0.13", 4342, "10.77.0.11", 4342, 92),
        ("10.77.0.11", 4342, "10.77.0.13", 4342, 40),
    ],
    "lispersnet-04-lig-ipv6-and-iid.pcap": [
        ("10.77.0.13", 4342, "10.77.0.11", 4342, 92),
        ("10.77.0.11", 37925, "10.77.0.12", 4342, 92),
        ("10.77.0.12", 4342, "10.77.0.13", 4342, 52),
        ("10.77.0.13", 4342, "10.77.0.11", 4342, 72),
        ("10.77.0.11", 37925, "10.77.0.12", 4342, 72),
        ("10.77.0.12", 4342, "10.77.0.13", 4342, 52),
    ],
    "lispersnet-06-info-request-reply.pcap": [
        ("10.77.0.13", 55335, "10.77.0.11", 4342, 29),
        ("10.77.0.11", 4342, "10.77.0.13", 55335, 51),
        ("10.77.0.13", 55335, "10.77.0.11", 4342, 60),
        ("10.77.0.11", 4342, "10.77.0.13", 55335, 64),
    ],
    "oor-01-iid100-register-and-data.pcap": [
        ("10.0.1.1", 4342, "10.0.1.254", 4342, 76),
        ("10.0.1.254", 4342, "10.0.1.1", 4342, 76),
        *[("10.0.1.1", 4341, "10.0.2.2", 4341, 92), ("10.0.2.2", 64154, "10.0.1.1", 4341, 92)] * 2,
        ("10.0.2.2", 64154, "10.0.1.1", 4341, 92),
        ("10.0.1.1", 4341, "10.0.2.2", 4341, 92),
    ],
    "oor-02-iid100-through-pxtr.pcap": [
        ("10.0.1.1", 4341, "10.0.3.3", 4341, 92),
        ("10.0.3.3", 58107, "10.0.1.1", 4341, 92),
        ("10.0.3.3", 58107, "10.0.1.1", 4341, 92),
        ("10.0.1.1", 4341, "10.0.3.3", 4341, 92),
    ],
}
# first nibble of each payload: the LISP message type
TYPES = {
    "lispersnet-02-register-sha1-proxy-reply.pcap": [3, 4, 5],
    "lispersnet-03-lig-negative.pcap": [8, 2, 8, 2, 8, 2],
    "lispersnet-04-lig-ipv6-and-iid.pcap": [8, 8, 2, 8, 8, 2],
    "lispersnet-06-info-request-reply.pcap": [7, 7, 8, 2],
    # data packets: their first flags nibble (N L E V), OOR's 0, ours N and L
    "oor-01-iid100-register-and-data.pcap": [3, 4, 0, 12, 0, 12, 12, 0],
    "oor-02-iid100-through-pxtr.pcap": [0, 12, 12, 0],
}


def test_every_shipped_capture_is_covered() -> None:
    assert sorted(p.name for p in CAPTURES.glob("*.pcap")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_capture_datagrams_match_tshark(name: str) -> None:
    capture = read_capture(CAPTURES / name)
    expected = EXPECTED[name]
    assert capture.format == "pcap"
    assert capture.frame_count == len(expected)
    assert capture.skipped == ()
    got = [(d.src, d.sport, d.dst, d.dport, len(d.payload)) for d in capture.datagrams]
    want = [(ip_address(s), sp, ip_address(d), dp, n) for s, sp, d, dp, n in expected]
    assert got == want
    assert [d.frame for d in capture.datagrams] == list(range(1, len(expected) + 1))
    assert [d.payload[0] >> 4 for d in capture.datagrams] == TYPES[name]
    assert all(d.complete and d.interface is None for d in capture.datagrams)


def test_timestamps_are_monotonic_seconds() -> None:
    capture = read_capture(CAPTURES / "lispersnet-03-lig-negative.pcap")
    times = [d.timestamp for d in capture.datagrams]
    assert times == sorted(times)
    # tshark: frame 2 is 0.002322 s after frame 1, frame 6 is 0.649090 s after it
    assert times[1] - times[0] == pytest.approx(0.002322, abs=1e-6)
    assert times[5] - times[0] == pytest.approx(0.649090, abs=1e-6)


def test_ip_packet_is_the_ethernet_payload_without_padding() -> None:
    capture = read_capture(CAPTURES / "lispersnet-06-info-request-reply.pcap")
    first = capture.datagrams[0]
    assert first.ip_packet[0] == 0x45
    assert len(first.ip_packet) == 20 + 8 + len(first.payload)
    assert first.ip_packet.endswith(first.payload)
    assert first.payload.endswith(b"vm\0")  # the distinguished-name EID of the Info-Request
