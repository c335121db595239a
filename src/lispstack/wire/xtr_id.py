"""The xTR-ID (128 bits) and site-ID (64 bits) that end a message when its I bit is set."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from lispstack.wire.buffer import Reader
from lispstack.wire.errors import EncodeError

_XTR_ID = struct.Struct("!QQQ")
XTR_ID_LENGTH = _XTR_ID.size


@dataclass(frozen=True, slots=True)
class XtrId:
    xtr_id: int
    site_id: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.xtr_id < 1 << 128:
            raise EncodeError("xTR-ID does not fit in 128 bits")
        if not 0 <= self.site_id < 1 << 64:
            raise EncodeError("site-ID does not fit in 64 bits")

    def encode(self) -> bytes:
        return _XTR_ID.pack(self.xtr_id >> 64, self.xtr_id & 0xFFFFFFFFFFFFFFFF, self.site_id)

    def to_json(self) -> dict[str, Any]:
        return {"xtr_id": f"0x{self.xtr_id:032x}", "site_id": f"0x{self.site_id:016x}"}


def decode_xtr_id(r: Reader) -> XtrId:
    pos = r.pos
    r.take(XTR_ID_LENGTH, "xtr_id")
    high, low, site_id = _XTR_ID.unpack_from(r.data, pos)
    return XtrId((high << 64) | low, site_id)
