"""Pure LISP wire codecs: no state, no clock, no I/O."""

from lispstack.wire.address import (
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
from lispstack.wire.auth import AlgorithmId, verify_raw
from lispstack.wire.control import ControlMessage, decode_control
from lispstack.wire.data_header import DataHeader, DataPacket, encapsulation_header
from lispstack.wire.ecm import Ecm
from lispstack.wire.errors import DecodeError, EncodeError
from lispstack.wire.info import InfoReply, InfoRequest
from lispstack.wire.map_notify import MapNotify, MapNotifyAck
from lispstack.wire.map_referral import MapReferral, ReferralAction, ReferralRecord
from lispstack.wire.map_register import MapRegister
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import Action, EidRecord, Locator, MappingRecord
from lispstack.wire.xtr_id import XtrId

__all__ = [
    "NO_ADDRESS",
    "Action",
    "Address",
    "AfiList",
    "AlgorithmId",
    "AsNumber",
    "ControlMessage",
    "DataHeader",
    "DataPacket",
    "DecodeError",
    "DistinguishedName",
    "Ecm",
    "EidRecord",
    "EncodeError",
    "ExplicitLocatorPath",
    "Hop",
    "InfoReply",
    "InfoRequest",
    "InstanceId",
    "Locator",
    "MacAddress",
    "MapNotify",
    "MapNotifyAck",
    "MapReferral",
    "MapRegister",
    "MapReply",
    "MapRequest",
    "MappingRecord",
    "NatTraversal",
    "NoAddress",
    "OpaqueLcaf",
    "ReferralAction",
    "ReferralRecord",
    "SourceDestKey",
    "XtrId",
    "decode_control",
    "encapsulation_header",
    "verify_raw",
]
