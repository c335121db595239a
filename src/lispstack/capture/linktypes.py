"""Link-layer headers: from a captured frame to the IP packet it carries.

Supported link types (tcpdump.org LINKTYPE_ values): Ethernet (1, with
802.1Q / 802.1ad VLAN tags), raw IP (101, and its old aliases 12 and 14;
228 IPv4 only, 229 IPv6 only), Linux cooked capture SLL (113) and SLL2
(276), BSD loopback NULL (0, address family in the capturing host's byte
order) and LOOP (108, network byte order).
"""

from __future__ import annotations

import enum

from lispstack.capture.errors import NotUdpError

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
_VLAN_ETHERTYPES = frozenset({0x8100, 0x88A8, 0x9100})
# AF_INET is 2 everywhere; AF_INET6 is 10 on Linux, 24 on NetBSD/OpenBSD,
# 28 on FreeBSD, 30 on macOS.
_AF_INET = 2
_AF_INET6 = frozenset({10, 24, 28, 30})


class LinkType(enum.IntEnum):
    NULL = 0
    ETHERNET = 1
    RAW_ALIAS_12 = 12
    RAW_ALIAS_14 = 14
    RAW = 101
    LOOP = 108
    LINUX_SLL = 113
    IPV4 = 228
    IPV6 = 229
    LINUX_SLL2 = 276


_RAW_TYPES = frozenset({LinkType.RAW, LinkType.RAW_ALIAS_12, LinkType.RAW_ALIAS_14})


def ip_packet_of(linktype: int, frame: bytes) -> bytes:
    """The IP packet carried by `frame`; raises NotUdpError when there is none."""
    if linktype == LinkType.ETHERNET:
        return _ethernet(frame)
    if linktype in _RAW_TYPES:
        return _raw(frame)
    if linktype == LinkType.IPV4:
        return _raw_of_version(frame, 4)
    if linktype == LinkType.IPV6:
        return _raw_of_version(frame, 6)
    if linktype == LinkType.LINUX_SLL:
        return _by_ethertype(frame, _need(frame, 16, "Linux cooked (SLL)"), 14)
    if linktype == LinkType.LINUX_SLL2:
        return _by_ethertype(frame, _need(frame, 20, "Linux cooked (SLL2)"), 0)
    if linktype in (LinkType.NULL, LinkType.LOOP):
        return _loopback(frame, linktype)
    raise NotUdpError(f"link type {linktype} is not supported")


def _need(frame: bytes, n: int, what: str) -> int:
    if len(frame) < n:
        raise NotUdpError(f"truncated {what} header: {len(frame)} of {n} bytes")
    return n


def _by_ethertype(frame: bytes, header_len: int, type_offset: int) -> bytes:
    ethertype = int.from_bytes(frame[type_offset : type_offset + 2], "big")
    return _ip_by_ethertype(ethertype, frame[header_len:])


def _ip_by_ethertype(ethertype: int, rest: bytes) -> bytes:
    if ethertype == ETHERTYPE_IPV4:
        return _raw_of_version(rest, 4)
    if ethertype == ETHERTYPE_IPV6:
        return _raw_of_version(rest, 6)
    raise NotUdpError(f"ethertype 0x{ethertype:04x} is not IP")


def _ethernet(frame: bytes) -> bytes:
    pos = _need(frame, 14, "Ethernet")
    ethertype = int.from_bytes(frame[12:14], "big")
    while ethertype in _VLAN_ETHERTYPES:
        _need(frame, pos + 4, "802.1Q VLAN tag")
        ethertype = int.from_bytes(frame[pos + 2 : pos + 4], "big")
        pos += 4
    if ethertype < 0x0600:
        raise NotUdpError("IEEE 802.3 frame with a length field (LLC), not IP")
    return _ip_by_ethertype(ethertype, frame[pos:])


def _raw(frame: bytes) -> bytes:
    if not frame:
        raise NotUdpError("empty raw IP frame")
    version = frame[0] >> 4
    if version not in (4, 6):
        raise NotUdpError(f"IP version {version} is neither 4 nor 6")
    return frame


def _raw_of_version(packet: bytes, version: int) -> bytes:
    if not packet:
        raise NotUdpError(f"empty IPv{version} packet")
    if packet[0] >> 4 != version:
        raise NotUdpError(f"IPv{version} expected but the version field is {packet[0] >> 4}")
    return packet


def _loopback(frame: bytes, linktype: int) -> bytes:
    _need(frame, 4, "loopback")
    family = int.from_bytes(frame[:4], "big")
    if linktype == LinkType.NULL and family > 0xFFFF:
        # NULL stores the family in the capturing host's byte order.
        family = int.from_bytes(frame[:4], "little")
    if family == _AF_INET:
        return _raw_of_version(frame[4:], 4)
    if family in _AF_INET6:
        return _raw_of_version(frame[4:], 6)
    raise NotUdpError(f"loopback address family {family} is not IP")
