"""Reading a capture file: pcap or pcapng in, UDP datagrams out.

    capture = read_capture("trace.pcapng")
    for d in capture.datagrams:
        print(d.frame, d.src, d.sport, d.dst, d.dport, len(d.payload))

Frames without a UDP datagram are listed in `capture.skipped` with the
reason. Only a broken file raises, and only `CaptureError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from lispstack.capture.errors import CaptureError, NotUdpError
from lispstack.capture.frames import Capture, RawFrame, SkippedFrame, UdpDatagram
from lispstack.capture.ip_udp import parse_ip_udp
from lispstack.capture.linktypes import ip_packet_of
from lispstack.capture.pcap_reader import PCAP_MAGICS, iter_pcap_frames
from lispstack.capture.pcapng_reader import PCAPNG_MAGIC, iter_pcapng_frames


def capture_format(data: bytes) -> str:
    """`"pcap"` or `"pcapng"` from the file's magic; CaptureError for anything else."""
    if data[:4] == PCAPNG_MAGIC:
        return "pcapng"
    if data[:4] in PCAP_MAGICS:
        return "pcap"
    if not data:
        raise CaptureError("empty file: not a pcap or pcapng capture", 0)
    raise CaptureError(f"not a pcap or pcapng capture (magic {data[:4].hex()})", 0)


def iter_frames(data: bytes) -> Iterator[RawFrame]:
    """Every packet record of a pcap or pcapng file, in file order."""
    if capture_format(data) == "pcapng":
        return iter_pcapng_frames(data)
    return iter_pcap_frames(data)


def udp_datagram_of(frame: RawFrame) -> UdpDatagram | SkippedFrame:
    """The UDP datagram in one frame, or why there is none."""
    try:
        found = parse_ip_udp(ip_packet_of(frame.linktype, frame.data))
    except NotUdpError as e:
        return SkippedFrame(frame=frame.number, reason=e.reason, fragment=e.fragment)
    return UdpDatagram(
        frame=frame.number,
        timestamp=frame.timestamp,
        interface=frame.interface,
        src=found.src,
        dst=found.dst,
        sport=found.sport,
        dport=found.dport,
        payload=found.payload,
        ip_packet=found.ip_packet,
        complete=found.complete,
    )


def parse_capture(data: bytes) -> Capture:
    """Every UDP datagram of a pcap or pcapng file held in memory."""
    datagrams: list[UdpDatagram] = []
    skipped: list[SkippedFrame] = []
    count = 0
    for frame in iter_frames(data):
        count = frame.number
        found = udp_datagram_of(frame)
        if isinstance(found, UdpDatagram):
            datagrams.append(found)
        else:
            skipped.append(found)
    return Capture(
        format=capture_format(data),
        frame_count=count,
        datagrams=tuple(datagrams),
        skipped=tuple(skipped),
    )


def read_capture(path: str | os.PathLike[str]) -> Capture:
    """Every UDP datagram of the pcap or pcapng file at `path`."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CaptureError(f"cannot read {os.fspath(path)}: {e.strerror or e}") from e
    try:
        return parse_capture(data)
    except CaptureError as e:
        raise CaptureError(f"{os.fspath(path)}: {e.reason}", e.offset) from e
