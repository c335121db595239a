"""LISP control message types (RFC 9301 section 5.1, RFC 8111, RFC 9301 NAT extensions)."""

from __future__ import annotations

import enum

from lispstack.wire.errors import EncodeError


class MessageType(enum.IntEnum):
    MAP_REQUEST = 1
    MAP_REPLY = 2
    MAP_REGISTER = 3
    MAP_NOTIFY = 4
    MAP_NOTIFY_ACK = 5
    MAP_REFERRAL = 6
    INFO = 7
    ECM = 8

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


def nonce_text(nonce: int) -> str:
    """A nonce as JSON and show output carry it: 0x plus 16 hex digits."""
    return f"0x{nonce:016x}"


def check_nonce(nonce: int) -> None:
    if not 0 <= nonce <= 0xFFFFFFFFFFFFFFFF:
        raise EncodeError(f"nonce {nonce} does not fit in 64 bits")
