"""Bounded cursors over wire data.

`Reader` never reads past its end and raises `TruncatedError` naming the field
instead; `restrict` hands out a sub-reader that must be consumed exactly
(dnspython's `restrict_to`). Offsets are reported relative to the start of
the whole datagram so errors point at the real byte.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from lispstack.wire.errors import BadLengthError, TrailingBytesError, TruncatedError

if TYPE_CHECKING:
    from lispstack.wire.records import LocatorSets

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")


class Reader:
    """A cursor over `data[start:end]` with named, bounds-checked reads."""

    __slots__ = ("data", "end", "locator_sets", "notes", "pos")

    def __init__(
        self,
        data: bytes,
        start: int = 0,
        end: int | None = None,
        notes: list[str] | None = None,
        locator_sets: LocatorSets | None = None,
    ) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end
        # Harmless deviations seen while decoding (liberal decoding reports them here).
        self.notes: list[str] = [] if notes is None else notes
        # The caller's table of decoded locator sets, to share (see records.LocatorSets).
        self.locator_sets = locator_sets

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int, field: str) -> int:
        pos = self.pos
        if pos + n > self.end:
            raise TruncatedError(f"need {n} bytes, {self.end - pos} left", field=field, offset=pos)
        self.pos = pos + n
        return pos

    def u8(self, field: str) -> int:
        pos = self._need(1, field)
        return self.data[pos]

    def u16(self, field: str) -> int:
        pos = self._need(2, field)
        return int(_U16.unpack_from(self.data, pos)[0])

    def u32(self, field: str) -> int:
        pos = self._need(4, field)
        return int(_U32.unpack_from(self.data, pos)[0])

    def u64(self, field: str) -> int:
        pos = self._need(8, field)
        return int(_U64.unpack_from(self.data, pos)[0])

    def take(self, n: int, field: str) -> bytes:
        pos = self._need(n, field)
        return self.data[pos : pos + n]

    def rest(self) -> bytes:
        out = self.data[self.pos : self.end]
        self.pos = self.end
        return out

    def restrict(self, n: int, field: str) -> Reader:
        """A sub-reader over the next `n` bytes; this reader skips past them."""
        pos = self.pos
        if pos + n > self.end:
            raise BadLengthError(
                f"length {n} runs past the end ({self.end - pos} bytes left)",
                field=field,
                offset=pos,
            )
        self.pos = pos + n
        return Reader(self.data, pos, pos + n, self.notes, self.locator_sets)

    def expect_end(self, field: str) -> None:
        if self.pos != self.end:
            raise TrailingBytesError(
                f"{self.end - self.pos} unexpected trailing bytes", field=field, offset=self.pos
            )

    def note(self, text: str) -> None:
        self.notes.append(f"{text} (at byte {self.pos})")
