"""Errors of the wire layer.

`DecodeError` and its subclasses mean the peer sent bytes we cannot accept
(h11's RemoteProtocolError); each names the field and the byte offset.
`EncodeError` means our caller built an object that cannot go on the wire
(h11's LocalProtocolError).
"""

from __future__ import annotations


class WireError(Exception):
    """Base of every error raised by lispstack.wire."""


class DecodeError(WireError):
    """Malformed wire data: what is wrong, in which field, at which byte."""

    def __init__(self, reason: str, *, field: str = "", offset: int = 0) -> None:
        self.reason = reason
        self.field = field
        self.offset = offset
        where = f"{field} at byte {offset}" if field else f"byte {offset}"
        super().__init__(f"{reason} ({where})")


class TruncatedError(DecodeError):
    """The data ended before the field did."""


class TrailingBytesError(DecodeError):
    """Bytes remain after the last field of a message."""


class BadLengthError(DecodeError):
    """A length field disagrees with the data it describes."""


class BadCountError(DecodeError):
    """A count field is zero where it must not be, or too large."""


class BadMaskLengthError(DecodeError):
    """A mask length longer than the address it applies to."""


class UnknownAfiError(DecodeError):
    """An AFI (or message type) that this field cannot carry."""


class TooDeepError(DecodeError):
    """Structures nested inside one another deeper than the protocol uses (LCAF in LCAF)."""


class BadValueError(DecodeError):
    """A field holds a value the protocol forbids."""


class EncodeError(WireError, ValueError):
    """An object that cannot be encoded (or constructed): a local programming error."""
