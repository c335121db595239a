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

HEADER_LENGTH = 8
_HEADER = struct.Struct("!II")
_N, _L, _E, _V, _I = 0x80, 0x40, 0x20, 0x10, 0x08


_PACK = _HEADER.pack
_NL = (_N | _L) << 24
_NLI = (_N | _L | _I) << 24


def encapsulation_header(nonce: int, lsb: int, iid: int | None = None) -> bytes:
    """The 8 bytes an ITR puts before an inner packet: N and L set (and I with an iid).

    The data-plane hot path: no validation; `nonce` is 24 bits, `lsb` 32 bits
    (8 with an instance-id, which is 24 bits). `DataHeader` is the checked form.
    """
    if iid is None:
        return _PACK(_NL | nonce, lsb)
    return _PACK(_NLI | nonce, (iid << 8) | (lsb & 0xFF))


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
        start = r.pos
        inner = r.rest()
        inner_summary(inner, start)
        return cls(header=header, inner=inner)

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
    packet: bytes, offset: int = 0
) -> tuple[IPv4Address | IPv6Address, IPv4Address | IPv6Address, int]:
    """(source, destination, protocol) of an inner IP packet.

    The packet must be whole: its IPv4 total length or IPv6 payload length
    must match the bytes present (`offset` is where it starts in the datagram,
    for error messages).
    """
    if not packet:
        raise TruncatedError("no inner packet", field="data.inner", offset=offset)
    version = packet[0] >> 4
    if version == 4:
        if len(packet) < 20:
            raise TruncatedError("inner IPv4 header cut short", field="data.inner", offset=offset)
        if packet[0] & 0x0F < 5:
            raise BadValueError("inner IPv4 IHL below 5", field="data.inner.ihl", offset=offset)
        _check_length(int.from_bytes(packet[2:4], "big"), len(packet), "total_length", offset)
        return IPv4Address(packet[12:16]), IPv4Address(packet[16:20]), packet[9]
    if version == 6:
        if len(packet) < 40:
            raise TruncatedError("inner IPv6 header cut short", field="data.inner", offset=offset)
        declared = 40 + int.from_bytes(packet[4:6], "big")
        _check_length(declared, len(packet), "payload_length", offset)
        return IPv6Address(packet[8:24]), IPv6Address(packet[24:40]), packet[6]
    raise BadValueError(f"inner IP version {version}", field="data.inner.version", offset=offset)


def _check_length(declared: int, present: int, name: str, offset: int) -> None:
    if declared > present:
        raise TruncatedError(
            f"inner packet of {declared} bytes cut to {present}",
            field=f"data.inner.{name}",
            offset=offset,
        )
    if declared < present:
        raise BadLengthError(
            f"inner packet of {declared} bytes followed by {present - declared} more",
            field=f"data.inner.{name}",
            offset=offset,
        )
