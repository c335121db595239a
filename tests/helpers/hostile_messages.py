"""Control messages built to be expensive or deep (issue 11.1), for tests and benchmarks."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

from lispstack.wire import Ecm, EidRecord, MapRequest, Reader

IPV4_10_0_0_1 = bytes.fromhex("00010a000001")  # AFI 1, 10.0.0.1
_LCAF = struct.Struct("!HBBBBH")  # AFI 16387, Rsvd1, Flags, Type, Rsvd2, Length


def lcaf(lcaf_type: int, body: bytes) -> bytes:
    """An LCAF address of `lcaf_type` around `body`, as raw wire bytes."""
    return _LCAF.pack(16387, 0, 0, lcaf_type, 0, len(body)) + body


def nested_afi_lists(depth: int, innermost: bytes = IPV4_10_0_0_1) -> bytes:
    """`innermost` wrapped in `depth` AFI-list LCAFs."""
    address = innermost
    for _ in range(depth):
        address = lcaf(1, address)
    return address


def nested_map_request(depth: int) -> bytes:
    """The Map-Request of issue 11.1: its source EID is 10.0.0.1 in `depth` AFI lists.

    The LCAFs start at byte 12, after the Map-Request header.
    """
    plain = MapRequest(
        nonce=1,
        itr_rlocs=(IPv4Address("10.0.1.1"),),
        records=(EidRecord(eid=IPv4Address("192.168.2.1"), eid_mask_len=32),),
    ).encode()
    return plain[:12] + nested_afi_lists(depth) + plain[14:]  # the plain source EID is AFI 0


def ecm_around(payload: bytes) -> bytes:
    """`payload`, whatever it holds, behind an ECM header from 10.0.1.1."""
    carrier = Ecm(
        source=IPv4Address("10.0.1.1"),
        destination=IPv4Address("192.168.2.1"),
        source_port=4342,
        message=MapRequest.decode_from(Reader(nested_map_request(0))),
    )
    return carrier.encode_around(payload)
