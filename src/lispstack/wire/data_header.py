"""The LISP data-plane header (RFC 9300 section 5.3) and the packet it carries.

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |N|L|E|V|I|R|K|K|            Nonce/Map-Version                  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                 Instance ID/Locator-Status-Bits               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

N nonce present, L locator-status-bits present, E echo-nonce request,
V map-versions (source 12 bits, destination 12 bits) instead of the nonce,
I instance-id (24 bits) in the second word, leaving 8 bits of LSBs.

`DataHeader` is the checked codec. The data path uses two specialised
functions beside it, kept equal to it by tests: `encapsulation_header`
(what an ITR sends) and `decapsulate` (what an ETR or PETR reads).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from lispstack.wire.buffer import Reader
from lispstack.wire.errors import (
    BadLengthError,
    BadValueError,
    DecodeError,
    EncodeError,
    TruncatedError,
)
from lispstack.wire.ip_udp import decode_ip_header

HEADER_LENGTH = 8
FLAG_N, FLAG_L, FLAG_E, FLAG_V, FLAG_I = 0x80, 0x40, 0x20, 0x10, 0x08
_N, _L, _E, _V, _I = FLAG_N, FLAG_L, FLAG_E, FLAG_V, FLAG_I
_HEADER = struct.Struct("!II")
_PACK = _HEADER.pack
_NL = (_N | _L) << 24
_NLI = (_N | _L | _I) << 24
_VL = (_V | _L) << 24
_VLI = (_V | _L | _I) << 24


def encapsulation_header(nonce: int, lsb: int, iid: int = 0) -> bytes:
    """The 8 bytes an ITR puts before an inner packet: N and L set, and I for a non-zero iid.

    The data-plane hot path: no validation; `nonce` is 24 bits, `lsb` 32 bits
    (only its low 8 go with an instance-id, which is 24 bits). Equal to the
    checked DataHeader(nonce_present=True, lsb_present=True, ...).encode().
    """
    if iid:
        return _PACK(_NLI | nonce, (iid << 8) | (lsb & 0xFF))
    return _PACK(_NL | nonce, lsb)


def echo_request_header(nonce: int, lsb: int, iid: int = 0) -> bytes:
    """`encapsulation_header` with the E bit: echo this nonce back (RFC 9300 section 10.1)."""
    header = encapsulation_header(nonce, lsb, iid)
    return bytes((header[0] | _E,)) + header[1:]


def versioned_header(source_version: int, dest_version: int, lsb: int, iid: int = 0) -> bytes:
    """`encapsulation_header` with map-versions (V bit, RFC 9302) instead of the nonce.

    Equal to the checked DataHeader(map_version_present=True, lsb_present=True, ...).encode().
    """
    versions = (source_version << 12) | dest_version
    if iid:
        return _PACK(_VLI | versions, (iid << 8) | (lsb & 0xFF))
    return _PACK(_VL | versions, lsb)


@dataclass(frozen=True, slots=True, kw_only=True)
class DataHeader:
    nonce_present: bool = False
    lsb_present: bool = False
    echo_nonce: bool = False
    map_version_present: bool = False
    instance_id_present: bool = False
    reserved_flags: int = 0
    nonce: int = 0
    source_map_version: int = 0
    dest_map_version: int = 0
    instance_id: int = 0
    lsb: int = 0

    def __post_init__(self) -> None:
        if self.nonce_present and self.map_version_present:
            raise EncodeError("the N and V bits exclude each other")
        if not 0 <= self.nonce <= 0xFFFFFF:
            raise EncodeError("data-plane nonce does not fit in 24 bits")
        for name in ("source_map_version", "dest_map_version"):
            if not 0 <= getattr(self, name) <= 0xFFF:
                raise EncodeError(f"{name} does not fit in 12 bits")
        if not 0 <= self.instance_id <= 0xFFFFFF:
            raise EncodeError("instance-id does not fit in 24 bits")
        lsb_bits = 8 if self.instance_id_present else 32
        if not 0 <= self.lsb < 1 << lsb_bits:
            raise EncodeError(f"locator-status-bits do not fit in {lsb_bits} bits")
        if not 0 <= self.reserved_flags <= 7:
            raise EncodeError("reserved flags R, K, K are three bits")

    @property
    def echo_nonce_ignored(self) -> bool:
        """E is set with N clear: RFC 9300 section 5.3 says the receiver ignores E then."""
        return self.echo_nonce and not self.nonce_present

    def encode(self) -> bytes:
        flags = (
            (_N if self.nonce_present else 0)
            | (_L if self.lsb_present else 0)
            | (_E if self.echo_nonce else 0)
            | (_V if self.map_version_present else 0)
            | (_I if self.instance_id_present else 0)
            | self.reserved_flags
        )
        if self.map_version_present:
            low = (self.source_map_version << 12) | self.dest_map_version
        else:
            low = self.nonce
        second = (self.instance_id << 8) | self.lsb if self.instance_id_present else self.lsb
        return _HEADER.pack((flags << 24) | low, second)

    @classmethod
    def decode_from(cls, r: Reader) -> DataHeader:
        start = r.pos
        r.take(HEADER_LENGTH, "data.header")
        first, second = _HEADER.unpack_from(r.data, start)
        flags, low = first >> 24, first & 0xFFFFFF
        if flags & _N and flags & _V:
            raise BadValueError("N and V bits both set", field="data.flags", offset=start)
        versioned = bool(flags & _V)
        with_iid = bool(flags & _I)
        return cls(
            nonce_present=bool(flags & _N),
            lsb_present=bool(flags & _L),
            echo_nonce=bool(flags & _E),
            map_version_present=versioned,
            instance_id_present=with_iid,
            reserved_flags=flags & 7,
            nonce=0 if versioned else low,
            source_map_version=low >> 12 if versioned else 0,
            dest_map_version=low & 0xFFF if versioned else 0,
            instance_id=second >> 8 if with_iid else 0,
            lsb=second & 0xFF if with_iid else second,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DataPacket:
    """A UDP 4341 payload: the LISP header and the inner IP packet."""

    header: DataHeader
    inner: bytes

    def __post_init__(self) -> None:
        try:
            inner_summary(self.inner)
        except DecodeError as error:
            raise EncodeError(f"not an inner IP packet: {error}") from None

    def encode(self) -> bytes:
        return self.header.encode() + self.inner

    @classmethod
    def decode_from(cls, r: Reader) -> DataPacket:
        """The header and the inner packet, which runs to the end of `r`."""
        header = DataHeader.decode_from(r)
        inner_summary(r.data, r.pos, r.end)
        return cls(header=header, inner=r.rest())

    @classmethod
    def decode(cls, payload: bytes) -> DataPacket:
        return cls.decode_from(Reader(payload))

    def to_json(self) -> dict[str, Any]:
        src, dst, protocol = inner_summary(self.inner)
        out: dict[str, Any] = {
            "type": "data",
            "nonce_present": self.header.nonce_present,
            "lsb_present": self.header.lsb_present,
            "echo_nonce": self.header.echo_nonce,
            "map_version_present": self.header.map_version_present,
            "instance_id": self.header.instance_id,
            "lsb": self.header.lsb,
            "inner": {
                "src": str(src),
                "dst": str(dst),
                "protocol": protocol,
                "length": len(self.inner),
            },
        }
        if self.header.nonce_present:
            out["nonce"] = f"0x{self.header.nonce:06x}"
        if self.header.map_version_present:
            out["source_map_version"] = self.header.source_map_version
            out["dest_map_version"] = self.header.dest_map_version
        return out


def inner_summary(
    data: bytes, start: int = 0, end: int | None = None
) -> tuple[IPv4Address | IPv6Address, IPv4Address | IPv6Address, int]:
    """(source, destination, protocol) of the inner IP packet at `data[start:end]`.

    The packet must be whole: its IPv4 total length or IPv6 payload length
    must match the bytes present.
    """
    end = len(data) if end is None else end
    ip = decode_ip_header(data, start, end, "data.inner")
    present = end - start
    name = "total_length" if ip.version == 4 else "payload_length"
    if ip.total_length > present:
        raise TruncatedError(
            f"inner packet of {ip.total_length} bytes cut to {present}",
            field=f"data.inner.{name}",
            offset=start,
        )
    if ip.total_length < present:
        raise BadLengthError(
            f"inner packet of {ip.total_length} bytes followed by {present - ip.total_length} more",
            field=f"data.inner.{name}",
            offset=start,
        )
    return ip.src, ip.dst, ip.protocol


@dataclass(frozen=True, slots=True)
class Decapsulated:
    """A received LISP data packet, split into its header fields and the inner packet."""

    flags: int
    nonce: int | None
    """None without the N bit."""
    iid: int
    """0 without the I bit."""
    lsb: int | None
    """None without the L bit."""
    inner: bytes
    map_versions: tuple[int, int] | None = None
    """(source, destination) map-versions with the V bit (RFC 9302), else None."""


def decapsulate(payload: bytes) -> Decapsulated:
    """Split a UDP 4341 payload into the LISP header fields and the inner packet.

    The data-plane hot path: checks the N and V bits as DataHeader.decode_from
    does and only the inner packet's version (inner_summary checks the rest).
    Raises DecodeError when the header is short or the inner packet is not IP.
    """
    if len(payload) <= HEADER_LENGTH:
        raise TruncatedError(
            f"{len(payload)} bytes, need a LISP header and an inner packet",
            field="data.header",
            offset=0,
        )
    first, second = _HEADER.unpack_from(payload)
    flags = first >> 24
    if flags & _N and flags & _V:
        raise BadValueError("N and V bits both set", field="data.flags", offset=0)
    inner = payload[HEADER_LENGTH:]
    if inner[0] >> 4 not in (4, 6):
        raise BadValueError(
            f"inner IP version {inner[0] >> 4}", field="data.inner.version", offset=HEADER_LENGTH
        )
    nonce = first & 0xFFFFFF if flags & _N else None
    if flags & _I:
        iid, lsb = second >> 8, second & 0xFF
    else:
        iid, lsb = 0, second
    versions = ((first >> 12) & 0xFFF, first & 0xFFF) if flags & _V else None
    return Decapsulated(flags, nonce, iid, lsb if flags & _L else None, inner, versions)
