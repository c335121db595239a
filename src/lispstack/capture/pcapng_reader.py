"""pcapng files: sections in either byte order, interfaces with their own link types.

Every block is: block type (4), block total length (4), body, block total
length again (4). Blocks read here: Section Header (0x0A0D0D0A, its
byte-order magic 0x1A2B3C4D picks the section's byte order), Interface
Description (1: link type, snap length, options if_name, if_tsresol,
if_tsoffset), Enhanced Packet (6), Simple Packet (3) and the obsolete Packet
Block (2). Other blocks (name resolution, statistics, custom...) are skipped.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from lispstack.capture.errors import CaptureError
from lispstack.capture.frames import RawFrame

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_SHB, _IDB, _PB, _SPB, _EPB = 0x0A0D0D0A, 1, 2, 3, 6
_OPT_END, _IF_NAME, _IF_TSRESOL, _IF_TSOFFSET = 0, 2, 9, 14


@dataclass(frozen=True, slots=True)
class _Interface:
    linktype: int
    snaplen: int
    name: str | None
    units_per_second: int
    ts_offset: int


def iter_pcapng_frames(data: bytes) -> Iterator[RawFrame]:
    """The packets of a pcapng file held in `data`; CaptureError when it is broken."""
    if data[:4] != PCAPNG_MAGIC:
        raise CaptureError(f"not a pcapng file: magic {data[:4].hex() or '(empty)'}", offset=0)
    order = "<"
    interfaces: list[_Interface] = []
    pos, number = 0, 0
    while pos < len(data):
        if len(data) - pos < 12:
            raise CaptureError(f"truncated block header: {len(data) - pos} of 12 bytes", pos)
        if data[pos : pos + 4] == PCAPNG_MAGIC:
            order = _section_byte_order(data, pos)
            interfaces = []
        btype, blen = struct.unpack_from(order + "II", data, pos)
        if blen < 12 or blen % 4:
            raise CaptureError(f"block length {blen} is not a multiple of 4 of at least 12", pos)
        if blen > len(data) - pos:
            raise CaptureError(
                f"block of type {btype} is cut short: {len(data) - pos} of {blen} bytes", pos
            )
        (trailer,) = struct.unpack_from(order + "I", data, pos + blen - 4)
        if trailer != blen:
            raise CaptureError(f"block trailing length {trailer} differs from {blen}", pos)
        body = data[pos + 8 : pos + blen - 4]
        if btype == _SHB:
            _section_header(body, order, pos)
        elif btype == _IDB:
            interfaces.append(_interface(body, order, pos))
        elif btype in (_EPB, _SPB, _PB):
            number += 1
            yield _packet(btype, body, order, interfaces, number, pos)
        pos += blen


def _section_byte_order(data: bytes, pos: int) -> str:
    if len(data) - pos < 12:
        raise CaptureError("truncated section header block", pos)
    if int.from_bytes(data[pos + 8 : pos + 12], "little") == _BYTE_ORDER_MAGIC:
        return "<"
    if int.from_bytes(data[pos + 8 : pos + 12], "big") == _BYTE_ORDER_MAGIC:
        return ">"
    raise CaptureError(f"bad byte-order magic {data[pos + 8 : pos + 12].hex()}", pos + 8)


def _section_header(body: bytes, order: str, pos: int) -> None:
    if len(body) < 16:
        raise CaptureError(f"section header block body of {len(body)} bytes, need 16", pos)
    (major,) = struct.unpack_from(order + "H", body, 4)
    if major != 1:
        raise CaptureError(f"unsupported pcapng major version {major}", pos + 12)


def _options(body: bytes, start: int, order: str, pos: int) -> dict[int, bytes]:
    """The options of a block body from `start` (first occurrence of each code)."""
    options: dict[int, bytes] = {}
    at = start
    while at + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, at)
        if code == _OPT_END:
            break
        value_end = at + 4 + length
        if value_end > len(body):
            raise CaptureError(f"option {code} runs past the end of its block", pos + 8 + at)
        options.setdefault(code, body[at + 4 : value_end])
        at = value_end + (-length % 4)
    return options


def _interface(body: bytes, order: str, pos: int) -> _Interface:
    if len(body) < 8:
        raise CaptureError(f"interface description body of {len(body)} bytes, need 8", pos)
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body, 0)
    options = _options(body, 8, order, pos)
    name = options.get(_IF_NAME)
    units = 1_000_000
    resol = options.get(_IF_TSRESOL)
    if resol:
        units = 2 ** (resol[0] & 0x7F) if resol[0] & 0x80 else 10 ** resol[0]
    offset = options.get(_IF_TSOFFSET)
    ts_offset = 0
    if offset is not None:
        if len(offset) != 8:
            raise CaptureError(f"if_tsoffset option of {len(offset)} bytes, need 8", pos)
        (ts_offset,) = struct.unpack(order + "q", offset)
    return _Interface(
        linktype=linktype,
        snaplen=snaplen,
        name=name.rstrip(b"\0").decode("utf-8", "replace") if name is not None else None,
        units_per_second=units,
        ts_offset=ts_offset,
    )


def _packet(
    btype: int, body: bytes, order: str, interfaces: list[_Interface], number: int, pos: int
) -> RawFrame:
    if btype == _SPB:
        if len(body) < 4:
            raise CaptureError(f"simple packet block body of {len(body)} bytes, need 4", pos)
        iface_id, ts = 0, None
        (origlen,) = struct.unpack_from(order + "I", body, 0)
        caplen = min(origlen, len(body) - 4)
        if interfaces and interfaces[0].snaplen:
            caplen = min(caplen, interfaces[0].snaplen)
        start = 4
    elif btype == _EPB:
        if len(body) < 20:
            raise CaptureError(f"enhanced packet block body of {len(body)} bytes, need 20", pos)
        iface_id, high, low, caplen, origlen = struct.unpack_from(order + "IIIII", body, 0)
        ts, start = (high << 32) | low, 20
    else:
        if len(body) < 20:
            raise CaptureError(f"packet block body of {len(body)} bytes, need 20", pos)
        iface_id, _drops, high, low, caplen, origlen = struct.unpack_from(order + "HHIIII", body, 0)
        ts, start = (high << 32) | low, 20
    if iface_id >= len(interfaces):
        raise CaptureError(
            f"frame {number} names interface {iface_id}, which is not described", pos
        )
    if caplen > len(body) - start:
        raise CaptureError(
            f"frame {number}: captured length {caplen} runs past its block", pos + 8 + start
        )
    iface = interfaces[iface_id]
    timestamp = 0.0 if ts is None else ts / iface.units_per_second + iface.ts_offset
    return RawFrame(
        number=number,
        timestamp=timestamp,
        linktype=iface.linktype,
        interface=iface.name,
        data=body[start : start + caplen],
        original_length=origlen,
    )
