"""The layout Map-Register, Map-Notify and Map-Notify-Ack share.

 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|Type   |          flags (by message type)              | Rec Cnt |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                         Nonce (64)                            |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|    Key ID     | Algorithm ID  |  Authentication Data Length   |
~                     Authentication Data                       ~
|                     Mapping records ...                       |
|     xTR-ID (128) + site-ID (64), when the I bit is set        |
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from lispstack.wire.auth import AUTH_OFFSET, AlgorithmId, sign_encoded
from lispstack.wire.buffer import Reader
from lispstack.wire.errors import BadLengthError, BadValueError, EncodeError
from lispstack.wire.message_type import check_nonce
from lispstack.wire.records import MappingRecord
from lispstack.wire.xtr_id import XTR_ID_LENGTH, XtrId, decode_xtr_id

_HEAD = struct.Struct("!IQBBH")


@dataclass(frozen=True, slots=True)
class AuthenticatedBody:
    """What the three message types decode to, before their own flags are applied."""

    flags: int
    nonce: int
    key_id: int
    algorithm: AlgorithmId
    auth_data: bytes
    records: tuple[MappingRecord, ...]
    xtr_id: XtrId | None


class Signable(Protocol):
    """What Map-Register, Map-Notify and Map-Notify-Ack have in common for signing."""

    @property
    def algorithm(self) -> AlgorithmId: ...

    def encode(self) -> bytes: ...


S = TypeVar("S", bound=Signable)


def signed(message: S, key: bytes) -> tuple[S, bytes]:
    """`message` authenticated with `key`: the signed object and its bytes."""
    unsigned = replace(message, auth_data=b"")  # type: ignore[type-var]
    encoded = sign_encoded(unsigned.encode(), message.algorithm, key)
    digest = encoded[AUTH_OFFSET : AUTH_OFFSET + message.algorithm.digest_length]
    return replace(message, auth_data=digest), encoded  # type: ignore[type-var]


def check_authenticated(
    nonce: int,
    key_id: int,
    algorithm: AlgorithmId,
    auth_data: bytes,
    records: tuple[MappingRecord, ...],
) -> None:
    """The checks every authenticated message makes on construction."""
    check_nonce(nonce)
    check_auth_fields(key_id, algorithm, auth_data)
    if len(records) > 255:
        raise EncodeError(f"{len(records)} records, at most 255")


def check_auth_fields(key_id: int, algorithm: AlgorithmId, auth_data: bytes) -> None:
    if not 0 <= key_id <= 0xFF:
        raise EncodeError(f"key id {key_id} does not fit in 8 bits")
    if auth_data and len(auth_data) != algorithm.digest_length:
        raise EncodeError(
            f"{algorithm.label} carries {algorithm.digest_length} bytes of authentication "
            f"data, not {len(auth_data)}"
        )


def encode_authenticated(
    first_word: int,
    nonce: int,
    key_id: int,
    algorithm: AlgorithmId,
    auth_data: bytes,
    records: tuple[MappingRecord, ...],
    xtr_id: XtrId | None,
) -> bytes:
    """The encoded message; empty `auth_data` encodes zeros of the algorithm's length."""
    length = algorithm.digest_length
    parts = [
        _HEAD.pack(first_word | len(records), nonce, key_id, algorithm, length),
        auth_data or bytes(length),
        *(record.encode() for record in records),
    ]
    if xtr_id is not None:
        parts.append(xtr_id.encode())
    return b"".join(parts)


def decode_authenticated(
    r: Reader, expected_type: int, i_bit: int, *, xtr_id_without_i_bit: bool = False
) -> AuthenticatedBody:
    """Decode the shared layout; `i_bit` is the mask of the xTR-ID-present flag."""
    start = r.pos
    r.take(_HEAD.size, "header")
    first, nonce, key_id, algorithm_value, length = _HEAD.unpack_from(r.data, start)
    if first >> 28 != expected_type:
        raise BadValueError(f"not a type {expected_type} message", field="type", offset=start)
    try:
        algorithm = AlgorithmId(algorithm_value)
    except ValueError:
        raise BadValueError(
            f"unknown algorithm id {algorithm_value}", field="algorithm_id", offset=start + 13
        ) from None
    if length != algorithm.digest_length:
        raise BadLengthError(
            f"authentication data length {length} does not match {algorithm.label} "
            f"({algorithm.digest_length} bytes)",
            field="auth_data_length",
            offset=start + 14,
        )
    auth_data = r.take(length, "auth_data")
    records = tuple(MappingRecord.decode(r, f"record[{i}]") for i in range(first & 0xFF))
    xtr_id = None
    if first & i_bit:
        xtr_id = decode_xtr_id(r)
    elif xtr_id_without_i_bit and r.remaining == XTR_ID_LENGTH:
        r.note("xTR-ID and site-ID present without the I bit (lispers.net)")
        xtr_id = decode_xtr_id(r)
    return AuthenticatedBody(
        first & 0x0FFFFF00, nonce, key_id, algorithm, auth_data, records, xtr_id
    )
