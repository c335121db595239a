"""Packet captures: read pcap/pcapng into UDP datagrams, build packets, write pcap.

Pure Python, no I/O beyond reading and writing the file itself. Used by
`lispstack decode`, by the lab, and by the tests' Wireshark cross-check.
"""

from lispstack.capture.errors import CaptureError
from lispstack.capture.frames import Capture, IPAddress, RawFrame, SkippedFrame, UdpDatagram
from lispstack.capture.linktypes import LinkType
from lispstack.capture.pcap_writer import pcap_bytes, write_pcap
from lispstack.capture.reader import (
    capture_format,
    iter_frames,
    parse_capture,
    read_capture,
    udp_datagram_of,
)

# The packet builders are the wire IP/UDP codec's; capture users find them here too.
from lispstack.wire.ip_udp import (
    build_ipv4,
    build_ipv6,
    build_udp,
    build_udp_packet,
    internet_checksum,
    udp_checksum,
)

__all__ = [
    "Capture",
    "CaptureError",
    "IPAddress",
    "LinkType",
    "RawFrame",
    "SkippedFrame",
    "UdpDatagram",
    "build_ipv4",
    "build_ipv6",
    "build_udp",
    "build_udp_packet",
    "capture_format",
    "internet_checksum",
    "iter_frames",
    "parse_capture",
    "pcap_bytes",
    "read_capture",
    "udp_checksum",
    "udp_datagram_of",
    "write_pcap",
]
