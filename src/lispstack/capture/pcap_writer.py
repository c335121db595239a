"""Writing classic pcap files (little-endian, microsecond timestamps).

    write_pcap("out.pcap", [(build_udp_packet(...), 1700000000.25), ...])

Packets are IP packets; with `linktype=LinkType.ETHERNET` each gets an
Ethernet header (locally administered MACs, ethertype by IP version).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable

from lispstack.capture.linktypes import ETHERTYPE_IPV4, ETHERTYPE_IPV6, LinkType

SNAPLEN = 262144
_HEADER = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")
_SRC_MAC = bytes.fromhex("020000000001")
_DST_MAC = bytes.fromhex("020000000002")


def _ethernet(packet: bytes) -> bytes:
    version = packet[0] >> 4 if packet else 0
    if version not in (4, 6):
        raise ValueError(f"not an IP packet (version {version}): cannot pick an ethertype")
    ethertype = ETHERTYPE_IPV4 if version == 4 else ETHERTYPE_IPV6
    return _DST_MAC + _SRC_MAC + ethertype.to_bytes(2, "big") + packet


def _timestamp(seconds: float) -> tuple[int, int]:
    if not 0 <= seconds < 2**32:
        raise ValueError(f"timestamp {seconds} does not fit a pcap record")
    micros = round(seconds * 1_000_000)
    return divmod(micros, 1_000_000)


def pcap_bytes(
    packets: Iterable[tuple[bytes, float]], *, linktype: LinkType = LinkType.RAW
) -> bytes:
    """A pcap file holding `(IP packet, timestamp in seconds)` pairs, as bytes."""
    if linktype not in (LinkType.RAW, LinkType.ETHERNET):
        raise ValueError(f"can write link type RAW or ETHERNET, not {linktype!r}")
    out = [_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, int(linktype))]
    for packet, when in packets:
        frame = _ethernet(packet) if linktype == LinkType.ETHERNET else packet
        if len(frame) > SNAPLEN:
            raise ValueError(f"packet of {len(frame)} bytes exceeds the snap length {SNAPLEN}")
        sec, usec = _timestamp(when)
        out.append(_RECORD.pack(sec, usec, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)


def write_pcap(
    path: str | os.PathLike[str],
    packets: Iterable[tuple[bytes, float]],
    *,
    linktype: LinkType = LinkType.RAW,
) -> None:
    """Write `(IP packet, timestamp in seconds)` pairs to a pcap file at `path`."""
    data = pcap_bytes(packets, linktype=linktype)
    with open(path, "wb") as f:
        f.write(data)
