r"""The LISP data plane (RFC 9300): encapsulation, RLOC choice, decapsulation checks.

An ITR puts an 8-byte LISP header in front of the inner IP packet and sends
it over UDP to the chosen RLOC's port 4341. The header's codec is
wire/data_header.py; its fast encoder and decoder are re-exported here as
`data_header` and `decapsulate`, and the outer IP/UDP header comes from
wire/ip_udp.py.

The core emits a `SendDatagram` (LISP header + inner packet, destination
RLOC:4341, source port from the flow hash, source address = our RLOC). The
daemon may hand it to an ordinary UDP socket bound to the RLOC, or build
the whole outer packet with `outer_packet` and send it on a raw socket
(IPPROTO_RAW, IP_HDRINCL) so the per-flow source port survives.

Everything here works on `bytes` and small ints: it is the hot path.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from lispstack.config.model import NodeConfig
from lispstack.core.events import IPAddress, SendDatagram
from lispstack.wire.data_header import (
    FLAG_I,
    FLAG_L,
    FLAG_N,
    Decapsulated,
    decapsulate,
    versioned_header,
)
from lispstack.wire.data_header import HEADER_LENGTH as DATA_HEADER_LENGTH
from lispstack.wire.data_header import encapsulation_header as data_header
from lispstack.wire.errors import BadValueError, DecodeError
from lispstack.wire.ip_udp import DONT_FRAGMENT, PROTO_UDP, ipv4_header, ipv6_header, udp_segment

SOURCE_PORT_BASE = 49152
SOURCE_PORT_SPAN = 65536 - SOURCE_PORT_BASE
UNUSABLE_PRIORITY = 255
_PORTS_PROTOCOLS = frozenset({6, 17, 132})  # TCP, UDP, SCTP: hash the ports too


def flow_hash(packet: bytes) -> int:
    """A 32-bit hash of the inner flow: addresses, protocol and (TCP/UDP/SCTP) ports.

    Deterministic (CRC-32), so a flow always takes the same RLOC and outer
    source port, and ECMP in the RLOC space keeps its packets together. Reads
    the header fields in place (the hot path); tests compare the key with
    what wire.ip_udp.decode_ip_header reads.
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


def petr_choices(config: NodeConfig) -> tuple[RlocChoice, ...]:
    """The PETRs an ITR encapsulates to ([[petrs]] when [itr] use-petrs, else none)."""
    if not config.itr.use_petrs:
        return ()
    return tuple(
        RlocChoice(index, petr.address, petr.priority, petr.weight)
        for index, petr in enumerate(config.petrs)
    )


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


def outer_packet(action: SendDatagram, *, ttl: int = 64) -> bytes:
    """The whole outer IP/UDP packet for an encapsulated `SendDatagram` (for a raw socket).

    IPv4 outer headers carry UDP checksum 0 (RFC 9300 section 5.3 allows it)
    and DF; IPv6 outer headers get the full checksum.
    """
    src = action.source_address
    dst = action.destination.address
    if src is None:
        raise ValueError("an encapsulated packet needs its source RLOC")
    sport, dport = action.source_port, action.destination.port
    if isinstance(src, IPv4Address) and isinstance(dst, IPv4Address):
        segment = udp_segment(src, dst, sport, dport, action.payload, 0)
        return (
            ipv4_header(src, dst, PROTO_UDP, len(segment), ttl=ttl, ip_flags=DONT_FRAGMENT)
            + segment
        )
    if isinstance(src, IPv6Address) and isinstance(dst, IPv6Address):
        segment = udp_segment(src, dst, sport, dport, action.payload)
        return ipv6_header(src, dst, PROTO_UDP, len(segment), hop_limit=ttl) + segment
    raise ValueError(f"source {src} and destination {dst} are of different IP versions")


__all__ = [
    "DATA_HEADER_LENGTH",
    "FLAG_I",
    "FLAG_L",
    "FLAG_N",
    "Decapsulated",
    "DecodeError",
    "RlocChoice",
    "choose_rloc",
    "data_header",
    "decapsulate",
    "flow_hash",
    "inner_ints",
    "locator_status_bits",
    "outer_packet",
    "source_port",
    "versioned_header",
]


def inner_ints(packet: bytes) -> tuple[int, int, int]:
    """(IP version, source, destination) of an inner packet as ints.

    The hot-path parse; tests keep it equal to wire.ip_udp.decode_ip_header.
    """
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return 4, int.from_bytes(packet[12:16]), int.from_bytes(packet[16:20])
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        return 6, int.from_bytes(packet[8:24]), int.from_bytes(packet[24:40])
    raise BadValueError("not an IPv4 or IPv6 packet", field="inner.version", offset=0)
