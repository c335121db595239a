"""Decoding any LISP control message by its type (the first four bits)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from lispstack.wire.buffer import Reader
from lispstack.wire.ecm import Ecm
from lispstack.wire.errors import TruncatedError, UnknownAfiError
from lispstack.wire.info import InfoReply, InfoRequest, decode_info_from
from lispstack.wire.map_notify import MapNotify, MapNotifyAck
from lispstack.wire.map_referral import MapReferral
from lispstack.wire.map_register import MapRegister
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.message_type import MessageType
from lispstack.wire.records import LocatorSets

ControlMessage: TypeAlias = (
    MapRequest
    | MapReply
    | MapRegister
    | MapNotify
    | MapNotifyAck
    | MapReferral
    | InfoRequest
    | InfoReply
    | Ecm
)

_DECODERS: dict[int, Callable[[Reader], ControlMessage]] = {
    MessageType.MAP_REQUEST: MapRequest.decode_from,
    MessageType.MAP_REPLY: MapReply.decode_from,
    MessageType.MAP_REGISTER: MapRegister.decode_from,
    MessageType.MAP_NOTIFY: MapNotify.decode_from,
    MessageType.MAP_NOTIFY_ACK: MapNotifyAck.decode_from,
    MessageType.MAP_REFERRAL: MapReferral.decode_from,
    MessageType.INFO: decode_info_from,
    MessageType.ECM: Ecm.decode_from,
}


def decode_control_from(r: Reader) -> ControlMessage:
    """Decode one control message starting at the reader's position, to its end."""
    if r.remaining < 1:
        raise TruncatedError("empty message", field="type", offset=r.pos)
    kind = r.data[r.pos] >> 4
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise UnknownAfiError(f"unknown message type {kind}", field="type", offset=r.pos)
    message = decoder(r)
    r.expect_end("message")
    return message


def decode_control(
    data: bytes, notes: list[str] | None = None, locator_sets: LocatorSets | None = None
) -> ControlMessage:
    """Decode a whole UDP 4342 payload; harmless deviations are appended to `notes`.

    With `locator_sets`, records share the locator tuples decoded before (see
    records.LocatorSets).
    """
    return decode_control_from(Reader(data, notes=notes, locator_sets=locator_sets))
