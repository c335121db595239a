"""The demo's Wireshark verdict catches an outer IPv4 header with a wrong checksum.

The ITR hands the kernel outer IPv4 headers with checksum 0 (IP_HDRINCL fills
it in); a capture must show the kernel's checksum, and a frame without one
must fail the verdict.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from lispstack.capture import build_udp_packet
from lispstack.capture.pcap_writer import write_pcap
from lispstack.core.encapsulation import data_header, outer_packet
from lispstack.core.events import Endpoint, SendDatagram
from lispstack.lab.timeline import tshark_problems

pytestmark = pytest.mark.tshark

INNER = build_udp_packet("192.168.1.1", "192.168.2.1", 40000, 9000, b"x" * 64)


def _encapsulated() -> bytes:
    return outer_packet(
        SendDatagram(
            data_header(nonce=0x123456, lsb=1) + INNER,
            Endpoint(IPv4Address("10.0.2.2"), 4341),
            source_address=IPv4Address("10.0.1.1"),
            source_port=50123,
        )
    )


def test_a_complete_outer_header_is_clean(tmp_path: Path) -> None:
    capture = tmp_path / "good.pcap"
    write_pcap(capture, [(_encapsulated(), 1.0)])
    assert tshark_problems(capture) == []


def test_a_zero_outer_checksum_is_reported(tmp_path: Path) -> None:
    packet = _encapsulated()
    capture = tmp_path / "bad.pcap"
    write_pcap(capture, [(packet[:10] + b"\0\0" + packet[12:], 1.0)])
    problems = tshark_problems(capture)
    assert problems and "checksum" in " ".join(problems).lower()
