"""Classic pcap files: both byte orders, microsecond and nanosecond timestamps.

global header (24 bytes): magic, version major/minor, thiszone, sigfigs,
                          snaplen, link type (low 28 bits)
per record (16 bytes):    ts_sec, ts_frac, captured length, original length,
                          then the captured bytes
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from lispstack.capture.errors import CaptureError
from lispstack.capture.frames import RawFrame

# magic as it appears in the file -> (struct byte order, seconds per fraction unit)
PCAP_MAGICS: dict[bytes, tuple[str, float]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_HEADER_LEN = 24
_RECORD_LEN = 16


def iter_pcap_frames(data: bytes) -> Iterator[RawFrame]:
    """The frames of a classic pcap file held in `data`; CaptureError when it is broken."""
    found = PCAP_MAGICS.get(data[:4])
    if found is None:
        raise CaptureError(f"not a pcap file: magic {data[:4].hex() or '(empty)'}", offset=0)
    order, unit = found
    if len(data) < _HEADER_LEN:
        raise CaptureError(
            f"truncated pcap file header: {len(data)} of {_HEADER_LEN} bytes", offset=0
        )
    major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack_from(
        order + "HHiIII", data, 4
    )
    if major != 2:
        raise CaptureError(f"unsupported pcap version {major}", offset=4)
    linktype = network & 0x0FFFFFFF
    record = struct.Struct(order + "IIII")
    pos, number = _HEADER_LEN, 0
    while pos < len(data):
        number += 1
        if len(data) - pos < _RECORD_LEN:
            raise CaptureError(
                f"truncated record header of frame {number}: "
                f"{len(data) - pos} of {_RECORD_LEN} bytes",
                offset=pos,
            )
        sec, frac, caplen, origlen = record.unpack_from(data, pos)
        pos += _RECORD_LEN
        if caplen > len(data) - pos:
            raise CaptureError(
                f"frame {number} is cut short: {len(data) - pos} of {caplen} bytes", offset=pos
            )
        yield RawFrame(
            number=number,
            timestamp=sec + frac * unit,
            linktype=linktype,
            interface=None,
            data=data[pos : pos + caplen],
            original_length=origlen,
        )
        pos += caplen
