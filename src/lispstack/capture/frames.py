"""What the capture readers hand out: raw frames, UDP datagrams, skipped frames."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import TypeAlias

IPAddress: TypeAlias = IPv4Address | IPv6Address


@dataclass(frozen=True, slots=True, kw_only=True)
class RawFrame:
    """One packet record of a capture file, before any link-layer parsing.

    `number` is 1-based, counted as Wireshark numbers frames. `timestamp` is
    seconds since the epoch (0.0 for pcapng Simple Packet Blocks, which carry
    none). `original_length` is the length on the wire; `data` may be shorter
    when the capture used a snap length.
    """

    number: int
    timestamp: float
    linktype: int
    interface: str | None
    data: bytes
    original_length: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UdpDatagram:
    """One UDP datagram found in a capture.

    `complete` is False when the payload is cut short: a first IP fragment,
    or a frame captured with a snap length shorter than the packet.
    `ip_packet` is the IP packet as captured (link-layer padding removed).
    """

    frame: int
    timestamp: float
    interface: str | None
    src: IPAddress
    dst: IPAddress
    sport: int
    dport: int
    payload: bytes
    ip_packet: bytes
    complete: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class SkippedFrame:
    """A frame with no UDP datagram in it, and why (`fragment`: a non-first IP fragment)."""

    frame: int
    reason: str
    fragment: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Capture:
    """Everything read from one capture file."""

    format: str  # "pcap" or "pcapng"
    frame_count: int
    datagrams: tuple[UdpDatagram, ...]
    skipped: tuple[SkippedFrame, ...]

    @property
    def fragments(self) -> tuple[SkippedFrame, ...]:
        """Non-first IP fragments, skipped because they carry no UDP header."""
        return tuple(s for s in self.skipped if s.fragment)
