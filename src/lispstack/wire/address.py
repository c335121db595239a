"""LISP addresses: AFI-encoded addresses and LCAF (RFC 8060).

    0                   1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |           AFI = 16387         |     Rsvd1     |     Flags     |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |    Type       |     Rsvd2     |            Length             |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

IPv4 and IPv6 addresses are the standard library's `ipaddress` objects; the
other kinds are small frozen classes below. `Address` is their union.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import TypeAlias

from lispstack.wire.buffer import Reader
from lispstack.wire.errors import (
    BadLengthError,
    BadMaskLengthError,
    BadValueError,
    EncodeError,
    TooDeepError,
    UnknownAfiError,
)
from lispstack.wire.ip_udp import check_ports


class Afi(enum.IntEnum):
    NONE = 0
    IPV4 = 1
    IPV6 = 2
    DISTINGUISHED_NAME = 17
    LCAF = 16387
    MAC = 16389


MAX_LCAF_DEPTH = 4
"""How many LCAFs may enclose one another (an LCAF alone is depth 1).

RFC 8060's combinations need three (an instance-id around a source/dest
key around its prefixes, an AFI list of ELPs); a decoder that followed any
depth ran out of Python stack at about 330 (2.7 KB of wire data).
"""


class LcafType(enum.IntEnum):
    AFI_LIST = 1
    INSTANCE_ID = 2
    AS_NUMBER = 3
    NAT_TRAVERSAL = 7
    EXPLICIT_LOCATOR_PATH = 10
    SOURCE_DEST_KEY = 12


@dataclass(frozen=True, slots=True)
class NoAddress:
    """AFI 0: the field is present but carries no address."""

    def __str__(self) -> str:
        return "no-address"


@dataclass(frozen=True, slots=True)
class MacAddress:
    """AFI 16389: a 48-bit MAC address."""

    octets: bytes

    def __post_init__(self) -> None:
        if len(self.octets) != 6:
            raise EncodeError(f"a MAC address has 6 octets, not {len(self.octets)}")

    def __str__(self) -> str:
        return ":".join(f"{b:02x}" for b in self.octets)


@dataclass(frozen=True, slots=True)
class DistinguishedName:
    """AFI 17: a NUL-terminated ASCII name."""

    name: str

    def __post_init__(self) -> None:
        if "\0" in self.name or not self.name.isascii():
            raise EncodeError("a distinguished name is ASCII without NUL")

    def __str__(self) -> str:
        return f"'{self.name}'"


@dataclass(frozen=True, slots=True)
class AfiList:
    """LCAF type 1: a list of addresses."""

    addresses: tuple[Address, ...]

    def __post_init__(self) -> None:
        check_nesting(self.addresses)

    def __str__(self) -> str:
        return "(" + ", ".join(str(a) for a in self.addresses) + ")"


@dataclass(frozen=True, slots=True)
class InstanceId:
    """LCAF type 2: an address qualified by a 32-bit instance-id.

    `iid_mask_len` is the Rsvd2 field (how many IID bits are significant;
    0 when the whole IID applies, as every implementation sends it).
    """

    iid: int
    address: Address
    iid_mask_len: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.iid <= 0xFFFFFFFF:
            raise EncodeError(f"instance-id {self.iid} is not a 32-bit value")
        if not 0 <= self.iid_mask_len <= 32:
            raise EncodeError(f"instance-id mask length {self.iid_mask_len} is not 0-32")
        if isinstance(self.address, InstanceId):
            raise EncodeError("an instance-id address cannot nest another")
        check_nesting((self.address,))

    def __str__(self) -> str:
        return f"[{self.iid}]{self.address}"


@dataclass(frozen=True, slots=True)
class AsNumber:
    """LCAF type 3: an address qualified by an AS number."""

    asn: int
    address: Address

    def __post_init__(self) -> None:
        if not 0 <= self.asn <= 0xFFFFFFFF:
            raise EncodeError(f"AS number {self.asn} is not a 32-bit value")
        check_nesting((self.address,))

    def __str__(self) -> str:
        return f"AS{self.asn}:{self.address}"


@dataclass(frozen=True, slots=True)
class NatTraversal:
    """LCAF type 7: what a Map-Server tells an xTR behind a NAT (Info-Reply)."""

    ms_udp_port: int
    etr_udp_port: int
    global_etr_rloc: Address
    ms_rloc: Address
    private_etr_rloc: Address
    rtr_rlocs: tuple[Address, ...] = ()

    def __post_init__(self) -> None:
        check_ports(self.ms_udp_port, self.etr_udp_port)
        check_nesting(self.addresses)

    @property
    def addresses(self) -> tuple[Address, ...]:
        """The global ETR RLOC, MS RLOC, private ETR RLOC and RTR RLOCs, in wire order."""
        return (self.global_etr_rloc, self.ms_rloc, self.private_etr_rloc, *self.rtr_rlocs)

    def __str__(self) -> str:
        rtrs = ", ".join(str(a) for a in self.rtr_rlocs)
        return (
            f"nat(global {self.global_etr_rloc}:{self.etr_udp_port}, ms {self.ms_rloc}:"
            f"{self.ms_udp_port}, private {self.private_etr_rloc}, rtrs [{rtrs}])"
        )


@dataclass(frozen=True, slots=True)
class Hop:
    """One hop of an explicit locator path, with its L/P/S bits."""

    address: Address
    lookup: bool = False
    rloc_probe: bool = False
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ExplicitLocatorPath:
    """LCAF type 10: the re-encapsulation hops a packet should take."""

    hops: tuple[Hop, ...]

    def __post_init__(self) -> None:
        check_nesting([hop.address for hop in self.hops])

    def __str__(self) -> str:
        return "elp(" + " -> ".join(str(h.address) for h in self.hops) + ")"


@dataclass(frozen=True, slots=True)
class SourceDestKey:
    """LCAF type 12: a (source prefix, destination prefix) pair."""

    source: Address
    source_mask_len: int
    dest: Address
    dest_mask_len: int

    def __post_init__(self) -> None:
        check_mask_len(self.source, self.source_mask_len)
        check_mask_len(self.dest, self.dest_mask_len)
        check_nesting((self.source, self.dest))

    def __str__(self) -> str:
        return f"({self.source}/{self.source_mask_len}, {self.dest}/{self.dest_mask_len})"


@dataclass(frozen=True, slots=True)
class OpaqueLcaf:
    """Any other LCAF type, kept as it came so it re-encodes byte-identically."""

    lcaf_type: int
    rsvd1: int
    flags: int
    rsvd2: int
    body: bytes

    def __post_init__(self) -> None:
        for name in ("lcaf_type", "rsvd1", "flags", "rsvd2"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise EncodeError(f"LCAF {name} must fit in one byte")
        if len(self.body) > 0xFFFF:
            raise EncodeError("LCAF body longer than 65535 bytes")

    def __str__(self) -> str:
        return f"lcaf-{self.lcaf_type}({self.body.hex()})"


Address: TypeAlias = (
    NoAddress
    | IPv4Address
    | IPv6Address
    | MacAddress
    | DistinguishedName
    | AfiList
    | InstanceId
    | AsNumber
    | NatTraversal
    | ExplicitLocatorPath
    | SourceDestKey
    | OpaqueLcaf
)

NO_ADDRESS = NoAddress()


_HDR = struct.Struct("!HBBBBH")  # AFI, Rsvd1, Flags, Type, Rsvd2, Length
_AFI_V4 = b"\x00\x01"
_AFI_V6 = b"\x00\x02"


_NOT_LCAF = (IPv4Address, IPv6Address, NoAddress, MacAddress, DistinguishedName)


def lcaf_depth(address: Address) -> int:
    """How many LCAFs enclose one another in `address`: 0 for a plain address."""
    if isinstance(address, _NOT_LCAF):
        return 0
    if isinstance(address, (InstanceId, AsNumber)):
        children: Sequence[Address] = (address.address,)
    elif isinstance(address, SourceDestKey):
        children = (address.source, address.dest)
    elif isinstance(address, (AfiList, NatTraversal)):
        children = address.addresses
    elif isinstance(address, ExplicitLocatorPath):
        children = [hop.address for hop in address.hops]
    else:
        children = ()  # an opaque LCAF: its body is not decoded
    return 1 + max(map(lcaf_depth, children), default=0)


def check_nesting(children: Sequence[Address]) -> None:
    """Raise EncodeError when an LCAF around `children` would be deeper than the decoder takes."""
    for child in children:
        if not isinstance(child, _NOT_LCAF) and lcaf_depth(child) >= MAX_LCAF_DEPTH:
            raise EncodeError(f"LCAFs nested more than {MAX_LCAF_DEPTH} deep")


def max_mask_len(address: Address) -> int:
    """The longest mask an address of this kind can take (its bit width)."""
    if isinstance(address, IPv4Address):
        return 32
    if isinstance(address, IPv6Address):
        return 128
    if isinstance(address, MacAddress):
        return 48
    if isinstance(address, InstanceId):
        return max_mask_len(address.address)
    if isinstance(address, NoAddress):
        return 0
    # Names, paths and opaque LCAFs carry no mask semantics of their own.
    return 255


def check_mask_len(address: Address, mask_len: int) -> None:
    if not 0 <= mask_len <= max_mask_len(address):
        raise EncodeError(f"mask length {mask_len} is too long for {address}")


# ---------------------------------------------------------------- decoding


def decode_address(r: Reader, field: str, depth: int = 0) -> Address:
    """Read one AFI-encoded address (AFI, then its body) from `r`.

    `depth` is how many LCAFs enclose it; an LCAF deeper than
    MAX_LCAF_DEPTH raises TooDeepError.
    """
    start = r.pos
    afi = r.u16(f"{field}.afi")
    if afi == Afi.IPV4:
        return IPv4Address(r.take(4, field))
    if afi == Afi.IPV6:
        return IPv6Address(r.take(16, field))
    if afi == Afi.NONE:
        return NO_ADDRESS
    if afi == Afi.LCAF:
        if depth >= MAX_LCAF_DEPTH:
            raise TooDeepError(
                f"LCAF nested {depth + 1} deep, at most {MAX_LCAF_DEPTH}",
                field=f"{field}.lcaf",
                offset=start,
            )
        return _decode_lcaf(r, field, depth + 1)
    if afi == Afi.MAC:
        return MacAddress(r.take(6, field))
    if afi == Afi.DISTINGUISHED_NAME:
        return _decode_name(r, field)
    raise UnknownAfiError(f"unknown AFI {afi}", field=f"{field}.afi", offset=start)


def _decode_name(r: Reader, field: str) -> DistinguishedName:
    start = r.pos
    data = r.data
    end = data.find(b"\0", start, r.end)
    if end < 0:
        raise BadLengthError("distinguished name has no NUL terminator", field=field, offset=start)
    raw = data[start:end]
    r.pos = end + 1
    try:
        return DistinguishedName(raw.decode("ascii"))
    except (UnicodeDecodeError, EncodeError):
        raise BadValueError("distinguished name is not ASCII", field=field, offset=start) from None


def _decode_lcaf(r: Reader, field: str, depth: int) -> Address:
    """The LCAF after its AFI; `depth` counts it and the LCAFs around it."""
    start = r.pos - 2
    rsvd1 = r.u8(f"{field}.lcaf.rsvd1")
    flags = r.u8(f"{field}.lcaf.flags")
    lcaf_type = r.u8(f"{field}.lcaf.type")
    rsvd2 = r.u8(f"{field}.lcaf.rsvd2")
    length = r.u16(f"{field}.lcaf.length")
    if lcaf_type == LcafType.NAT_TRAVERSAL:
        return _decode_nat_traversal(r, length, field, start, depth)
    body = r.restrict(length, f"{field}.lcaf.length")
    address = _decode_lcaf_body(body, lcaf_type, rsvd1, flags, rsvd2, field, depth)
    body.expect_end(f"{field}.lcaf")
    return address


def _decode_lcaf_body(
    body: Reader, lcaf_type: int, rsvd1: int, flags: int, rsvd2: int, field: str, depth: int
) -> Address:
    if lcaf_type == LcafType.INSTANCE_ID:
        iid = body.u32(f"{field}.iid")
        inner = decode_address(body, field, depth)
        if isinstance(inner, InstanceId):
            raise BadValueError("nested instance-id LCAF", field=field, offset=body.pos)
        if rsvd2 > 32:
            raise BadValueError(
                f"instance-id mask length {rsvd2} > 32",
                field=f"{field}.iid_mask_len",
                offset=body.pos,
            )
        return InstanceId(iid, inner, rsvd2)
    if lcaf_type == LcafType.AFI_LIST:
        items: list[Address] = []
        while body.remaining:
            items.append(decode_address(body, field, depth))
        return AfiList(tuple(items))
    if lcaf_type == LcafType.AS_NUMBER:
        asn = body.u32(f"{field}.asn")
        return AsNumber(asn, decode_address(body, field, depth))
    if lcaf_type == LcafType.EXPLICIT_LOCATOR_PATH:
        hops: list[Hop] = []
        while body.remaining:
            bits = body.u16(f"{field}.elp.flags")
            hops.append(
                Hop(
                    decode_address(body, field, depth),
                    bool(bits & 4),
                    bool(bits & 2),
                    bool(bits & 1),
                )
            )
        return ExplicitLocatorPath(tuple(hops))
    if lcaf_type == LcafType.SOURCE_DEST_KEY:
        body.u16(f"{field}.sdk.reserved")
        src_len = body.u8(f"{field}.sdk.source_mask_len")
        dst_len = body.u8(f"{field}.sdk.dest_mask_len")
        src = decode_address(body, f"{field}.sdk.source", depth)
        dst = decode_address(body, f"{field}.sdk.dest", depth)
        check_decoded_mask(src, src_len, f"{field}.sdk.source_mask_len", body.pos)
        check_decoded_mask(dst, dst_len, f"{field}.sdk.dest_mask_len", body.pos)
        return SourceDestKey(src, src_len, dst, dst_len)
    return OpaqueLcaf(lcaf_type, rsvd1, flags, rsvd2, body.rest())


def _decode_nat_traversal(
    r: Reader, length: int, field: str, start: int, depth: int
) -> NatTraversal:
    """NAT-traversal LCAF, read liberally.

    lispers.net sends a Length that is shorter than the body it writes (it
    leaves out the last address). When the declared body ends inside an
    address we keep reading that address to its end and note the deviation.
    """
    body_start = r.pos
    declared_end = body_start + length
    if declared_end > r.end:
        raise BadLengthError(
            f"length {length} runs past the end", field=f"{field}.lcaf.length", offset=start + 6
        )
    ms_port = r.u16(f"{field}.nat.ms_udp_port")
    etr_port = r.u16(f"{field}.nat.etr_udp_port")
    addresses: list[Address] = []
    while r.pos < declared_end:
        addresses.append(decode_address(r, f"{field}.nat", depth))
    if r.pos > declared_end:
        # The declared length cannot be trusted: the body runs to the end of the message.
        while r.remaining >= 2:
            addresses.append(decode_address(r, f"{field}.nat", depth))
        r.note(
            f"NAT-traversal LCAF length {length} is shorter than its body "
            f"({r.pos - body_start} bytes)"
        )
    if len(addresses) < 3:
        raise BadLengthError(
            f"NAT-traversal LCAF holds {len(addresses)} addresses, needs at least 3",
            field=f"{field}.nat",
            offset=start,
        )
    return NatTraversal(
        ms_port, etr_port, addresses[0], addresses[1], addresses[2], tuple(addresses[3:])
    )


def check_decoded_mask(address: Address, mask_len: int, field: str, offset: int) -> None:
    """Raise BadMaskLengthError when `mask_len` exceeds the address width."""
    if mask_len > max_mask_len(address):
        raise BadMaskLengthError(
            f"mask length {mask_len} longer than the address", field=field, offset=offset
        )


# ---------------------------------------------------------------- encoding


def encode_address(address: Address) -> bytes:
    """The AFI-encoded wire form of an address."""
    if isinstance(address, IPv4Address):
        return _AFI_V4 + address.packed
    if isinstance(address, IPv6Address):
        return _AFI_V6 + address.packed
    if isinstance(address, NoAddress):
        return b"\x00\x00"
    if isinstance(address, MacAddress):
        return struct.pack("!H", Afi.MAC) + address.octets
    if isinstance(address, DistinguishedName):
        return struct.pack("!H", Afi.DISTINGUISHED_NAME) + address.name.encode("ascii") + b"\0"
    if isinstance(address, InstanceId):
        return _lcaf(
            LcafType.INSTANCE_ID,
            struct.pack("!I", address.iid) + encode_address(address.address),
            rsvd2=address.iid_mask_len,
        )
    if isinstance(address, AfiList):
        return _lcaf(LcafType.AFI_LIST, b"".join(encode_address(a) for a in address.addresses))
    if isinstance(address, AsNumber):
        return _lcaf(
            LcafType.AS_NUMBER, struct.pack("!I", address.asn) + encode_address(address.address)
        )
    if isinstance(address, NatTraversal):
        parts = [struct.pack("!HH", address.ms_udp_port, address.etr_udp_port)]
        parts.extend(encode_address(a) for a in address.addresses)
        return _lcaf(LcafType.NAT_TRAVERSAL, b"".join(parts))
    if isinstance(address, ExplicitLocatorPath):
        return _lcaf(
            LcafType.EXPLICIT_LOCATOR_PATH,
            b"".join(
                struct.pack("!H", (h.lookup << 2) | (h.rloc_probe << 1) | h.strict)
                + encode_address(h.address)
                for h in address.hops
            ),
        )
    if isinstance(address, SourceDestKey):
        return _lcaf(
            LcafType.SOURCE_DEST_KEY,
            struct.pack("!HBB", 0, address.source_mask_len, address.dest_mask_len)
            + encode_address(address.source)
            + encode_address(address.dest),
        )
    if isinstance(address, OpaqueLcaf):
        return (
            _HDR.pack(
                Afi.LCAF,
                address.rsvd1,
                address.flags,
                address.lcaf_type,
                address.rsvd2,
                len(address.body),
            )
            + address.body
        )
    raise EncodeError(f"cannot encode {address!r} as a LISP address")


def _lcaf(lcaf_type: int, body: bytes, rsvd2: int = 0) -> bytes:
    if len(body) > 0xFFFF:
        raise EncodeError("LCAF body longer than 65535 bytes")
    return _HDR.pack(Afi.LCAF, 0, 0, lcaf_type, rsvd2, len(body)) + body


# ---------------------------------------------------------------- helpers


def split_instance_id(address: Address) -> tuple[int, Address]:
    """(instance-id, bare address): instance-id 0 when there is no IID LCAF."""
    if isinstance(address, InstanceId):
        return address.iid, address.address
    return 0, address


def with_instance_id(iid: int, address: Address) -> Address:
    """The address as sent on the wire: plain for instance-id 0, else an IID LCAF."""
    return InstanceId(iid, address) if iid else address
