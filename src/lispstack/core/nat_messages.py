"""What xTRs behind a NAT and their RTRs send each other (draft-ietf-lisp-nat-traversal).

Ports, and why: a NAT lets a reply in only through the binding the inside
host opened, to the address and port it sent to. So the xTR behind the NAT
sends its Map-Registers in an ECM (M bit, "to Map-Server") from its data port
4341 to the RTR's control port 4342; the RTR learns the xTR's translated
address and port from that datagram's outer header, and sends everything back
from port 4342 to that address and port, which the NAT turns into the xTR's
port 4341:

- encapsulated data for the xTR's EIDs, as any LISP data packet;
- the Map-Server's Map-Notify, inside a LISP data header as an IP/UDP packet
  to the xTR's private RLOC, port 4342 (a Data-Map-Notify), so that nothing
  but LISP data packets arrives on the xTR's port 4341.

The xTR's Map-Register names the RTRs as its RLOCs, sets proxy-reply (no
Map-Request can reach the xTR) and carries its xTR-ID and site-ID.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from lispstack.core.encapsulation import data_header
from lispstack.core.events import CONTROL_PORT, DATA_PORT, Endpoint, IPAddress, SendDatagram
from lispstack.wire.buffer import Reader
from lispstack.wire.ecm import Ecm
from lispstack.wire.errors import DecodeError
from lispstack.wire.ip_udp import IpUdpHeader, build_udp_packet
from lispstack.wire.map_register import MapRegister
from lispstack.wire.records import Locator, MappingRecord


def with_rtr_locators(record: MappingRecord, rtrs: Sequence[IPAddress]) -> MappingRecord:
    """The record with the RTRs as its locators (equal priority and weight)."""
    weight = 100 // len(rtrs)
    return replace(
        record,
        locators=tuple(Locator(address=rtr, priority=1, weight=weight) for rtr in rtrs),
    )


def register_via_rtr(
    register: MapRegister, private_rloc: IPAddress, rtr: IPAddress, ms: IPAddress
) -> SendDatagram:
    """The signed Map-Register to Map-Server `ms`, in an ECM to the RTR (its encoding
    is the bytes that were signed: the codecs encode a decoded message as it was)."""
    ecm = Ecm(
        source=private_rloc,
        destination=ms,
        source_port=CONTROL_PORT,
        message=register,
        to_ms=True,
    )
    return SendDatagram(ecm.encode(), Endpoint(rtr, CONTROL_PORT), DATA_PORT, private_rloc)


def ecm_payload(raw: bytes) -> bytes:
    """The inner message of an ECM, as received (raises DecodeError if `raw` is not one)."""
    r = Reader(raw, 4)
    _, inner = IpUdpHeader.decode_from(r, "ecm.inner")
    return raw[inner.pos : inner.end]


def data_map_notify(
    notify: bytes, rtr: IPAddress, private_rloc: IPAddress, nonce: int, destination: Endpoint
) -> SendDatagram:
    """A Map-Notify for an xTR behind a NAT, in a LISP data packet from the RTR's port 4342."""
    inner = build_udp_packet(rtr, private_rloc, CONTROL_PORT, CONTROL_PORT, notify)
    return SendDatagram(data_header(nonce, 1) + inner, destination, CONTROL_PORT)


def control_in_data(inner: bytes, own_rlocs: Sequence[IPAddress]) -> bytes | None:
    """The control message of a Data-Map-Notify's inner packet (to one of `own_rlocs`,
    UDP port 4342), or None when the inner packet is something else."""
    try:
        header, reader = IpUdpHeader.decode_from(Reader(inner), "data.inner")
    except DecodeError:
        return None
    if header.dport != CONTROL_PORT or header.dst not in own_rlocs:
        return None
    return inner[reader.pos : reader.end]
