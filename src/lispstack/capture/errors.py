"""Errors of the capture layer.

`CaptureError` is the one exception a capture reader raises: the file is
missing, is not pcap/pcapng, or its structure is truncated or garbled. A
well-formed file whose packets are odd (not IP, not UDP, fragments, broken
headers) does not raise: those frames are skipped and reported.
"""

from __future__ import annotations


class CaptureError(Exception):
    """The capture file cannot be read: what is wrong and at which byte."""

    def __init__(self, reason: str, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason if offset is None else f"{reason} (at byte {offset})")


class NotUdpError(Exception):
    """A frame that carries no UDP datagram we can report (internal to the package)."""

    def __init__(self, reason: str, *, fragment: bool = False) -> None:
        self.reason = reason
        self.fragment = fragment
        super().__init__(reason)
