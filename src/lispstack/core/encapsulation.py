r"""The LISP data plane (RFC 9300): encapsulation, RLOC choice, decapsulation checks.

An ITR puts an 8-byte LISP header in front of the inner IP packet and sends
it over UDP to the chosen RLOC's port 4341:

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |N|L|E|V|I|R|K|K|            Nonce/Map-Version                  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                 Instance ID/Locator-Status-Bits               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

N: the nonce is present; L: the locator-status-bits are present; I: the
first 24 bits of the second word are an instance-id and only 8 LSBs remain.

The core emits a `SendDatagram` (LISP header + inner packet, destination
RLOC:4341, source port from the flow hash, source address = our RLOC). The
daemon may hand it to an ordinary UDP socket bound to the RLOC, or build
the whole outer packet with `outer_packet` and send it on a raw socket
(IPPROTO_RAW, IP_HDRINCL) so the per-flow source port survives.

Everything here works on `bytes` and small ints: it is the hot path.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from lispstack.capture.packets import build_ipv4, build_ipv6, build_udp
from lispstack.core.events import IPAddress, SendDatagram
from lispstack.wire.errors import BadLengthError, BadValueError, DecodeError, TruncatedError

DATA_HEADER_LENGTH = 8
FLAG_N = 0x80
FLAG_L = 0x40
FLAG_E = 0x20
FLAG_V = 0x10
FLAG_I = 0x08
SOURCE_PORT_BASE = 49152
SOURCE_PORT_SPAN = 65536 - SOURCE_PORT_BASE
UNUSABLE_PRIORITY = 255
PROTO_UDP = 17
_PORTS_PROTOCOLS = frozenset({6, 17, 132})  # TCP, UDP, SCTP: hash the ports too
_HEADER = struct.Struct("!II")


@dataclass(frozen=True, slots=True)
class InnerHeader:
    """The fields of an inner IP packet the data plane looks at."""

    version: int
    src: IPAddress
    dst: IPAddress
    protocol: int


def parse_inner(packet: bytes) -> InnerHeader:
    """Source, destination and protocol of an IPv4 or IPv6 packet; DecodeError if it is not one."""
    if not packet:
        raise TruncatedError("empty packet", field="inner.version", offset=0)
    version = packet[0] >> 4
    if version == 4:
        if len(packet) < 20:
            raise TruncatedError("IPv4 header needs 20 bytes", field="inner", offset=0)
        if (packet[0] & 0x0F) < 5:
            raise BadValueError("IPv4 IHL below 5", field="inner.ihl", offset=0)
        total = (packet[2] << 8) | packet[3]
        if total > len(packet) or total < 20:
            raise BadLengthError(
                f"IPv4 total length {total}, packet has {len(packet)}",
                field="inner.total_length",
                offset=2,
            )
        return InnerHeader(4, IPv4Address(packet[12:16]), IPv4Address(packet[16:20]), packet[9])
    if version == 6:
        if len(packet) < 40:
            raise TruncatedError("IPv6 header needs 40 bytes", field="inner", offset=0)
        payload = (packet[4] << 8) | packet[5]
        if 40 + payload > len(packet):
            raise BadLengthError(
                f"IPv6 payload length {payload}, packet has {len(packet) - 40}",
                field="inner.payload_length",
                offset=4,
            )
        return InnerHeader(6, IPv6Address(packet[8:24]), IPv6Address(packet[24:40]), packet[6])
    raise BadValueError(f"IP version {version}", field="inner.version", offset=0)


def flow_hash(packet: bytes) -> int:
    """A 32-bit hash of the inner flow: addresses, protocol and (TCP/UDP/SCTP) ports.

    Deterministic (CRC-32), so a flow always takes the same RLOC and outer
    source port, and ECMP in the RLOC space keeps its packets together.
    """
    if packet[0] >> 4 == 4:
        protocol = packet[9]
        key = packet[12:20] + packet[9:10]
        if protocol in _PORTS_PROTOCOLS and not (packet[6] & 0x1F or packet[7]):
            ihl = (packet[0] & 0x0F) * 4
            key += packet[ihl : ihl + 4]
        return zlib.crc32(key)
    protocol = packet[6]
    key = packet[8:40] + packet[6:7]
    if protocol in _PORTS_PROTOCOLS:
        key += packet[40:44]
    return zlib.crc32(key)


def source_port(hash_value: int) -> int:
    """The outer UDP source port for a flow: 49152-65535, from the flow hash."""
    return SOURCE_PORT_BASE + (hash_value % SOURCE_PORT_SPAN)


@dataclass(frozen=True, slots=True)
class RlocChoice:
    """A usable RLOC of a mapping: its index in the locator set, address, priority, weight."""

    index: int
    address: IPAddress
    priority: int
    weight: int
    reachable: bool = True


def choose_rloc(
    rlocs: Sequence[RlocChoice], hash_value: int, families: frozenset[int]
) -> RlocChoice | None:
    """The RLOC for a flow (RFC 9300 section 6): lowest priority, then spread by weight.

    Only reachable RLOCs of a family in `families` (4 and/or 6: those we have
    an RLOC of our own in) with priority below 255 are candidates. Among the
    lowest priority, the flow hash picks one in proportion to the weights
    (all weights 0: equal shares). None: no usable RLOC.
    """
    best: list[RlocChoice] = []
    best_priority = UNUSABLE_PRIORITY
    for rloc in rlocs:
        if (
            not rloc.reachable
            or rloc.priority >= UNUSABLE_PRIORITY
            or rloc.address.version not in families
        ):
            continue
        if rloc.priority < best_priority:
            best_priority = rloc.priority
            best = [rloc]
        elif rloc.priority == best_priority:
            best.append(rloc)
    if len(best) <= 1:
        return best[0] if best else None
    total = sum(r.weight for r in best)
    if total == 0:
        return best[hash_value % len(best)]
    point = hash_value % total
    for rloc in best:
        if point < rloc.weight:
            return rloc
        point -= rloc.weight
    return best[-1]  # pragma: no cover - point < total always lands above


def locator_status_bits(rlocs: Sequence[RlocChoice]) -> int:
    """Bit i set when locator i (order of the mapping record) is reachable and usable."""
    bits = 0
    for rloc in rlocs:
        if rloc.index < 32 and rloc.reachable and rloc.priority < UNUSABLE_PRIORITY:
            bits |= 1 << rloc.index
    return bits


def data_header(nonce: int, lsb: int, iid: int = 0) -> bytes:
    """The 8-byte LISP header: N bit with `nonce`, L bit with `lsb`, I bit when iid != 0."""
    if iid:
        return _HEADER.pack(
            ((FLAG_N | FLAG_L | FLAG_I) << 24) | (nonce & 0xFFFFFF),
            ((iid & 0xFFFFFF) << 8) | (lsb & 0xFF),
        )
    return _HEADER.pack(((FLAG_N | FLAG_L) << 24) | (nonce & 0xFFFFFF), lsb & 0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class Decapsulated:
    """A received LISP data packet, split into its header fields and the inner packet."""

    flags: int
    nonce: int | None
    iid: int
    lsb: int | None
    inner: bytes


def decapsulate(payload: bytes) -> Decapsulated:
    """Split a UDP 4341 payload into the LISP header fields and the inner packet.

    Raises DecodeError when the header is short or the inner packet is not IP.
    """
    if len(payload) < DATA_HEADER_LENGTH + 1:
        raise TruncatedError(
            f"{len(payload)} bytes, need a LISP header and an inner packet",
            field="data.header",
            offset=0,
        )
    first, second = _HEADER.unpack_from(payload)
    flags = first >> 24
    if flags & FLAG_N and flags & FLAG_V:
        raise BadValueError("N and V bits both set", field="data.flags", offset=0)
    nonce = first & 0xFFFFFF if flags & FLAG_N else None
    if flags & FLAG_I:
        iid, lsb = second >> 8, second & 0xFF
    else:
        iid, lsb = 0, second
    inner = payload[DATA_HEADER_LENGTH:]
    if inner[0] >> 4 not in (4, 6):
        raise BadValueError(
            f"inner IP version {inner[0] >> 4}", field="inner.version", offset=DATA_HEADER_LENGTH
        )
    return Decapsulated(flags, nonce, iid, lsb if flags & FLAG_L else None, inner)


def outer_packet(action: SendDatagram, *, ttl: int = 64) -> bytes:
    """The whole outer IP/UDP packet for an encapsulated `SendDatagram` (for a raw socket).

    IPv4 outer headers carry UDP checksum 0 (RFC 9300 section 5.3 allows it);
    IPv6 outer headers get the full checksum.
    """
    src = action.source_address
    dst = action.destination.address
    if src is None:
        raise ValueError("an encapsulated packet needs its source RLOC")
    if isinstance(src, IPv4Address) and isinstance(dst, IPv4Address):
        udp = struct.pack(
            "!HHHH", action.source_port, action.destination.port, 8 + len(action.payload), 0
        )
        return build_ipv4(src, dst, PROTO_UDP, udp + action.payload, ttl=ttl)
    if isinstance(src, IPv6Address) and isinstance(dst, IPv6Address):
        segment = build_udp(src, dst, action.source_port, action.destination.port, action.payload)
        return build_ipv6(src, dst, PROTO_UDP, segment, hop_limit=ttl)
    raise ValueError(f"source {src} and destination {dst} are of different IP versions")


__all__ = [
    "DATA_HEADER_LENGTH",
    "FLAG_I",
    "FLAG_L",
    "FLAG_N",
    "Decapsulated",
    "DecodeError",
    "InnerHeader",
    "RlocChoice",
    "choose_rloc",
    "data_header",
    "decapsulate",
    "flow_hash",
    "inner_ints",
    "locator_status_bits",
    "outer_packet",
    "parse_inner",
    "source_port",
]


def inner_ints(packet: bytes) -> tuple[int, int, int]:
    """(IP version, source, destination) of an inner packet as ints: the hot-path parse."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return 4, int.from_bytes(packet[12:16]), int.from_bytes(packet[16:20])
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        return 6, int.from_bytes(packet[8:24]), int.from_bytes(packet[24:40])
    raise BadValueError("not an IPv4 or IPv6 packet", field="inner.version", offset=0)
