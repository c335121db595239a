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
from dataclasses import Field, dataclass, replace
from typing import Any, ClassVar, Protocol, TypeVar

from lispstack.wire.auth import AUTH_OFFSET, AlgorithmId, HmacKey, sign_encoded
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

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @property
    def algorithm(self) -> AlgorithmId: ...

    def encode(self) -> bytes: ...


S = TypeVar("S", bound=Signable)


def signed(message: S, key: HmacKey | bytes) -> tuple[S, bytes]:
    """`message` authenticated with `key`: the signed object and its bytes."""
    unsigned = replace(message, auth_data=b"")
    encoded = sign_encoded(unsigned.encode(), message.algorithm, key)
    digest = encoded[AUTH_OFFSET : AUTH_OFFSET + message.algorithm.digest_length]
    return replace(message, auth_data=digest), encoded


def with_authentication(message: S, key_id: int, algorithm: AlgorithmId, key: HmacKey | bytes) -> S:
    """`message` with this key id and algorithm, its authentication data computed with `key`.

    Algorithm `none` gives the message without authentication data.
    """
    unsigned = replace(message, key_id=key_id, algorithm=algorithm, auth_data=b"")
    if algorithm is AlgorithmId.NONE:
        return unsigned
    return signed(unsigned, key)[0]


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


def encode_auth_header(
    first_word: int, nonce: int, key_id: int, algorithm: AlgorithmId, auth_data: bytes
) -> bytes:
    """The first 16 bytes and the authentication data (zeros when `auth_data` is empty)."""
    length = algorithm.digest_length
    return _HEAD.pack(first_word, nonce, key_id, algorithm, length) + (auth_data or bytes(length))


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
    parts = [
        encode_auth_header(first_word | len(records), nonce, key_id, algorithm, auth_data),
        *(record.encode() for record in records),
    ]
    if xtr_id is not None:
        parts.append(xtr_id.encode())
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class AuthHeader:
    """The first 16 bytes and the authentication data, as Info messages share them too."""

    first: int
    nonce: int
    key_id: int
    algorithm: AlgorithmId
    auth_data: bytes


def decode_auth_header(r: Reader, expected_type: int) -> AuthHeader:
    """Type word, nonce, key id, algorithm id, length and authentication data.

    A length that does not match the algorithm's full digest is an error.
    """
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
    return AuthHeader(first, nonce, key_id, algorithm, r.take(length, "auth_data"))


def decode_authenticated(
    r: Reader, expected_type: int, i_bit: int, *, xtr_id_without_i_bit: bool = False
) -> AuthenticatedBody:
    """Decode the shared layout; `i_bit` is the mask of the xTR-ID-present flag."""
    head = decode_auth_header(r, expected_type)
    first = head.first
    records = tuple(MappingRecord.decode(r, f"record[{i}]") for i in range(first & 0xFF))
    xtr_id = None
    if first & i_bit:
        xtr_id = decode_xtr_id(r)
    elif xtr_id_without_i_bit and r.remaining == XTR_ID_LENGTH:
        r.note("xTR-ID and site-ID present without the I bit (lispers.net)")
        xtr_id = decode_xtr_id(r)
    return AuthenticatedBody(
        first & 0x0FFFFF00, head.nonce, head.key_id, head.algorithm, head.auth_data, records, xtr_id
    )
