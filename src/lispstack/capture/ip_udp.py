"""The UDP datagram inside a captured IP packet, read with the wire IP/UDP codec.

IPv4 options are skipped by the IHL. IPv6 hop-by-hop, routing,
destination-options and authentication headers are skipped. A fragment
(IPv4, or the IPv6 fragment header) that is not the first carries no UDP
header and is reported as a fragment; a first fragment is returned with
`complete=False`, as is a packet cut short by the capture's snap length.
"""

from __future__ import annotations

from dataclasses import dataclass

from lispstack.capture.errors import NotUdpError
from lispstack.capture.frames import IPAddress
from lispstack.wire.errors import DecodeError
from lispstack.wire.ip_udp import (
    IPV6_HEADER_LENGTH,
    PROTO_UDP,
    UDP_HEADER_LENGTH,
    IpHeader,
    decode_ip_header,
    decode_udp_header,
    ipv6_upper_layer,
)

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
    try:
        ip = decode_ip_header(packet)
        return _ipv4(packet, ip) if ip.version == 4 else _ipv6(packet, ip)
    except DecodeError as error:
        raise NotUdpError(error.reason) from None


def _ipv4(packet: bytes, ip: IpHeader) -> IpUdp:
    complete = ip.total_length <= len(packet)
    packet = packet[: ip.total_length]  # drop link-layer padding
    if ip.fragment_offset:
        raise NotUdpError(
            f"IPv4 fragment at offset {ip.fragment_offset} of datagram id 0x{ip.ip_id:04x}",
            fragment=True,
        )
    if ip.protocol != PROTO_UDP:
        raise NotUdpError(f"IPv4 protocol {ip.protocol} is not UDP")
    return _udp(ip, packet, ip.header_length, complete and not ip.more_fragments)


def _ipv6(packet: bytes, ip: IpHeader) -> IpUdp:
    complete = True
    if ip.total_length > IPV6_HEADER_LENGTH or len(packet) == IPV6_HEADER_LENGTH:
        # A payload length of 0 with more behind it is a jumbogram: read what is there.
        complete = ip.total_length <= len(packet)
        packet = packet[: ip.total_length]
    protocol, pos, fragment = ipv6_upper_layer(packet, IPV6_HEADER_LENGTH, len(packet), ip.protocol)
    if fragment is not None:
        if fragment.offset:
            raise NotUdpError(
                f"IPv6 fragment at offset {fragment.offset} of datagram id 0x{fragment.ident:08x}",
                fragment=True,
            )
        complete = complete and not fragment.more
    if protocol == _IPV6_NO_NEXT:
        raise NotUdpError("IPv6 packet with no next header")
    if protocol != PROTO_UDP:
        raise NotUdpError(f"IPv6 next header {protocol} is not UDP")
    return _udp(ip, packet, pos, complete)


def _udp(ip: IpHeader, packet: bytes, pos: int, complete: bool) -> IpUdp:
    sport, dport, length, _ = decode_udp_header(packet, pos, len(packet))
    return IpUdp(
        src=ip.src,
        dst=ip.dst,
        sport=sport,
        dport=dport,
        payload=packet[pos + UDP_HEADER_LENGTH : pos + length],
        ip_packet=packet,
        complete=complete and pos + length <= len(packet),
    )
