"""IPv4 / IPv6 / UDP headers of a captured packet.

IPv4 options are skipped by the IHL. IPv6 hop-by-hop, routing,
destination-options and authentication headers are skipped. A fragment
(IPv4, or the IPv6 fragment header) that is not the first carries no UDP
header and is reported as a fragment; a first fragment is returned with
`complete=False`, as is a packet cut short by the capture's snap length.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from lispstack.capture.errors import NotUdpError
from lispstack.capture.frames import IPAddress

PROTO_UDP = 17
_IPV6_SKIPPABLE = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT = 44
_IPV6_AH = 51
_IPV6_NO_NEXT = 59


@dataclass(frozen=True, slots=True)
class IpUdp:
    """The UDP datagram inside one IP packet."""

    src: IPAddress
    dst: IPAddress
    sport: int
    dport: int
    payload: bytes
    ip_packet: bytes
    complete: bool


def parse_ip_udp(packet: bytes) -> IpUdp:
    """The UDP datagram inside `packet` (IPv4 or IPv6); NotUdpError when there is none."""
    if not packet:
        raise NotUdpError("empty IP packet")
    version = packet[0] >> 4
    if version == 4:
        return _ipv4(packet)
    if version == 6:
        return _ipv6(packet)
    raise NotUdpError(f"IP version {version} is neither 4 nor 6")


def _ipv4(packet: bytes) -> IpUdp:
    if len(packet) < 20:
        raise NotUdpError(f"truncated IPv4 header: {len(packet)} of 20 bytes")
    ihl = (packet[0] & 0x0F) * 4
    if ihl < 20:
        raise NotUdpError(f"IPv4 header length {ihl} is below 20")
    if len(packet) < ihl:
        raise NotUdpError(f"truncated IPv4 header: {len(packet)} of {ihl} bytes")
    total = int.from_bytes(packet[2:4], "big")
    if total < ihl:
        raise NotUdpError(f"IPv4 total length {total} is below the header length {ihl}")
    complete = total <= len(packet)
    packet = packet[:total]  # drop link-layer padding
    flags_offset = int.from_bytes(packet[6:8], "big")
    offset = (flags_offset & 0x1FFF) * 8
    more_fragments = bool(flags_offset & 0x2000)
    ident = int.from_bytes(packet[4:6], "big")
    if offset:
        raise NotUdpError(
            f"IPv4 fragment at offset {offset} of datagram id 0x{ident:04x}", fragment=True
        )
    if packet[9] != PROTO_UDP:
        raise NotUdpError(f"IPv4 protocol {packet[9]} is not UDP")
    src = IPv4Address(packet[12:16])
    dst = IPv4Address(packet[16:20])
    return _udp(src, dst, packet, ihl, complete and not more_fragments)


def _ipv6(packet: bytes) -> IpUdp:
    if len(packet) < 40:
        raise NotUdpError(f"truncated IPv6 header: {len(packet)} of 40 bytes")
    payload_length = int.from_bytes(packet[4:6], "big")
    complete = True
    if payload_length or len(packet) == 40:
        complete = 40 + payload_length <= len(packet)
        packet = packet[: 40 + payload_length]
    src = IPv6Address(packet[8:24])
    dst = IPv6Address(packet[24:40])
    next_header, pos = packet[6], 40
    while next_header != PROTO_UDP:
        if next_header in _IPV6_SKIPPABLE or next_header == _IPV6_AH:
            if len(packet) < pos + 2:
                raise NotUdpError(f"truncated IPv6 extension header {next_header}")
            unit, extra = (4, 2) if next_header == _IPV6_AH else (8, 1)
            next_header, pos = packet[pos], pos + (packet[pos + 1] + extra) * unit
        elif next_header == _IPV6_FRAGMENT:
            if len(packet) < pos + 8:
                raise NotUdpError("truncated IPv6 fragment header")
            offset = int.from_bytes(packet[pos + 2 : pos + 4], "big") & 0xFFF8
            ident = int.from_bytes(packet[pos + 4 : pos + 8], "big")
            if offset:
                raise NotUdpError(
                    f"IPv6 fragment at offset {offset} of datagram id 0x{ident:08x}",
                    fragment=True,
                )
            complete = complete and not packet[pos + 3] & 1
            next_header, pos = packet[pos], pos + 8
        elif next_header == _IPV6_NO_NEXT:
            raise NotUdpError("IPv6 packet with no next header")
        else:
            raise NotUdpError(f"IPv6 next header {next_header} is not UDP")
        if pos > len(packet):
            raise NotUdpError("IPv6 extension header runs past the packet")
    return _udp(src, dst, packet, pos, complete)


def _udp(src: IPAddress, dst: IPAddress, packet: bytes, pos: int, complete: bool) -> IpUdp:
    segment = packet[pos:]
    if len(segment) < 8:
        raise NotUdpError(f"truncated UDP header: {len(segment)} of 8 bytes")
    length = int.from_bytes(segment[4:6], "big")
    if length < 8:
        raise NotUdpError(f"UDP length {length} is below 8")
    if length > len(segment):
        complete = False
    return IpUdp(
        src=src,
        dst=dst,
        sport=int.from_bytes(segment[0:2], "big"),
        dport=int.from_bytes(segment[2:4], "big"),
        payload=segment[8:length],
        ip_packet=packet,
        complete=complete,
    )
