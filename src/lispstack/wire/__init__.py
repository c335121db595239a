"""Pure LISP wire codecs: no state, no clock, no I/O."""

from lispstack.wire.address import (
    MAX_LCAF_DEPTH,
    NO_ADDRESS,
    Address,
    AfiList,
    AsNumber,
    DistinguishedName,
    ExplicitLocatorPath,
    Hop,
    InstanceId,
    MacAddress,
    NatTraversal,
    NoAddress,
    OpaqueLcaf,
    SourceDestKey,
)
from lispstack.wire.auth import AlgorithmId, HmacKey, compute_digest, key_bytes, verify_raw
from lispstack.wire.authenticated import with_authentication
from lispstack.wire.buffer import Reader
from lispstack.wire.control import ControlMessage, decode_control, decode_control_from
from lispstack.wire.data_header import DataHeader, DataPacket, encapsulation_header
from lispstack.wire.ecm import Ecm
from lispstack.wire.errors import (
    BadCountError,
    BadLengthError,
    BadMaskLengthError,
    BadValueError,
    DecodeError,
    EncodeError,
    TooDeepError,
    TrailingBytesError,
    TruncatedError,
    UnknownAfiError,
    WireError,
)
from lispstack.wire.info import InfoReply, InfoRequest
from lispstack.wire.ip_udp import IpUdpHeader, internet_checksum, udp_checksum
from lispstack.wire.map_notify import MapNotify, MapNotifyAck
from lispstack.wire.map_referral import MapReferral, ReferralAction, ReferralRecord
from lispstack.wire.map_register import MapRegister
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.message_type import MessageType
from lispstack.wire.records import EidRecord, Locator, MappingRecord, MapReplyAction
from lispstack.wire.xtr_id import XtrId

__all__ = [
    "MAX_LCAF_DEPTH",
    "NO_ADDRESS",
    "Address",
    "AfiList",
    "AlgorithmId",
    "AsNumber",
    "BadCountError",
    "BadLengthError",
    "BadMaskLengthError",
    "BadValueError",
    "ControlMessage",
    "DataHeader",
    "DataPacket",
    "DecodeError",
    "DistinguishedName",
    "Ecm",
    "EidRecord",
    "EncodeError",
    "ExplicitLocatorPath",
    "HmacKey",
    "Hop",
    "InfoReply",
    "InfoRequest",
    "InstanceId",
    "IpUdpHeader",
    "Locator",
    "MacAddress",
    "MapNotify",
    "MapNotifyAck",
    "MapReferral",
    "MapRegister",
    "MapReply",
    "MapReplyAction",
    "MapRequest",
    "MappingRecord",
    "MessageType",
    "NatTraversal",
    "NoAddress",
    "OpaqueLcaf",
    "Reader",
    "ReferralAction",
    "ReferralRecord",
    "SourceDestKey",
    "TooDeepError",
    "TrailingBytesError",
    "TruncatedError",
    "UnknownAfiError",
    "WireError",
    "XtrId",
    "compute_digest",
    "decode_control",
    "decode_control_from",
    "encapsulation_header",
    "internet_checksum",
    "key_bytes",
    "udp_checksum",
    "verify_raw",
    "with_authentication",
]
