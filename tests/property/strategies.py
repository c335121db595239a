"""Hypothesis strategies for every wire object."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from hypothesis import strategies as st

from lispstack.capture import build_udp_packet
from lispstack.wire import (
    NO_ADDRESS,
    Address,
    AfiList,
    AlgorithmId,
    AsNumber,
    ControlMessage,
    DataHeader,
    DataPacket,
    DistinguishedName,
    Ecm,
    EidRecord,
    ExplicitLocatorPath,
    Hop,
    InfoReply,
    InfoRequest,
    InstanceId,
    Locator,
    MacAddress,
    MapNotify,
    MapNotifyAck,
    MappingRecord,
    MapReferral,
    MapRegister,
    MapReply,
    MapReplyAction,
    MapRequest,
    NatTraversal,
    OpaqueLcaf,
    ReferralAction,
    ReferralRecord,
    SourceDestKey,
    XtrId,
)
from lispstack.wire.address import max_mask_len

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
nonces = st.integers(0, 2**64 - 1)
ipv4: st.SearchStrategy[IPv4Address] = st.builds(IPv4Address, u32)
ipv6: st.SearchStrategy[IPv6Address] = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
ip: st.SearchStrategy[IPv4Address | IPv6Address] = st.one_of(ipv4, ipv6)
macs = st.builds(MacAddress, st.binary(min_size=6, max_size=6))
names = st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=20)

simple_addresses: st.SearchStrategy[Address] = st.one_of(
    st.just(NO_ADDRESS),
    ipv4,
    ipv6,
    macs,
    st.builds(DistinguishedName, names),
)


def _lcafs(inner: st.SearchStrategy[Address]) -> st.SearchStrategy[Address]:
    return st.one_of(
        st.builds(AfiList, st.lists(inner, max_size=3).map(tuple)),
        st.builds(AsNumber, u32, inner),
        st.builds(
            ExplicitLocatorPath,
            st.lists(
                st.builds(Hop, inner, st.booleans(), st.booleans(), st.booleans()), max_size=3
            ).map(tuple),
        ),
    )


nested_addresses = st.recursive(simple_addresses, _lcafs, max_leaves=4)


@st.composite
def source_dest_keys(draw: st.DrawFn) -> SourceDestKey:
    family: st.SearchStrategy[IPv4Address | IPv6Address] = draw(st.sampled_from([ipv4, ipv6]))
    src, dst = draw(family), draw(family)
    return SourceDestKey(
        src, draw(st.integers(0, max_mask_len(src))), dst, draw(st.integers(0, max_mask_len(dst)))
    )


nat_traversals = st.builds(
    NatTraversal,
    u16,
    u16,
    simple_addresses,
    simple_addresses,
    simple_addresses,
    st.lists(simple_addresses, max_size=2).map(tuple),
)
opaque_lcafs = st.builds(
    OpaqueLcaf,
    st.sampled_from([4, 5, 6, 8, 9, 11, 13, 14, 15]),
    u8,
    u8,
    u8,
    st.binary(max_size=24),
)
instance_ids = st.builds(
    InstanceId,
    u32,
    st.one_of(ipv4, ipv6, macs),
    st.integers(0, 32),
)
addresses: st.SearchStrategy[Address] = st.one_of(
    nested_addresses, source_dest_keys(), nat_traversals, opaque_lcafs, instance_ids
)
eid_addresses: st.SearchStrategy[Address] = st.one_of(
    ipv4,
    ipv6,
    st.builds(InstanceId, u32, ip),
    macs,
    source_dest_keys(),
)


@dataclass(frozen=True, slots=True)
class Shapes:
    """What a family of generated messages may contain."""

    eids: st.SearchStrategy[Address]
    rlocs: st.SearchStrategy[Address]
    nat: st.SearchStrategy[NatTraversal]
    key_ids: st.SearchStrategy[int]
    request_xtr_ids: bool
    """Map-Requests may end with an xTR-ID (I bit)."""
    random_ecm_checksum: bool
    """False: the ECM computes its inner UDP checksum (decoded back as a number)."""
    notify_rtr: bool
    """Map-Notify / Map-Notify-Ack may set the R bit."""
    ecm_inner_ports: st.SearchStrategy[int]
    """The inner UDP destination port of an ECM."""
    ecm_source_ports: st.SearchStrategy[int]
    """The inner UDP source port of an ECM."""
    ecm_ip_flags: st.SearchStrategy[int]
    """The inner IPv4 flags and fragment offset of an ECM."""


EVERYTHING = Shapes(
    eids=eid_addresses,
    rlocs=addresses,
    nat=nat_traversals,
    key_ids=u8,
    request_xtr_ids=True,
    random_ecm_checksum=True,
    notify_rtr=True,
    ecm_inner_ports=u16,
    ecm_source_ports=u16,
    ecm_ip_flags=u16,
)


@st.composite
def eid_and_mask(draw: st.DrawFn, shapes: Shapes = EVERYTHING) -> tuple[Address, int]:
    eid = draw(shapes.eids)
    return eid, draw(st.integers(0, min(max_mask_len(eid), 255)))


def locators(shapes: Shapes = EVERYTHING) -> st.SearchStrategy[Locator]:
    return st.builds(
        Locator,
        address=shapes.rlocs,
        priority=u8,
        weight=u8,
        m_priority=u8,
        m_weight=u8,
        local=st.booleans(),
        probed=st.booleans(),
        reachable=st.booleans(),
        unused_flags=st.integers(0, 0x1FFF),
    )


@st.composite
def mapping_records(draw: st.DrawFn, shapes: Shapes = EVERYTHING) -> MappingRecord:
    eid, mask = draw(eid_and_mask(shapes))
    return MappingRecord(
        eid=eid,
        eid_mask_len=mask,
        ttl=draw(u32),
        action=draw(st.sampled_from(MapReplyAction)),
        authoritative=draw(st.booleans()),
        map_version=draw(st.integers(0, 0xFFF)),
        locators=tuple(draw(st.lists(locators(shapes), max_size=4))),
        reserved=draw(st.integers(0, 0xFFF)),
    )


@st.composite
def eid_records(draw: st.DrawFn, shapes: Shapes = EVERYTHING) -> EidRecord:
    eid, mask = draw(eid_and_mask(shapes))
    return EidRecord(eid=eid, eid_mask_len=mask, reserved=draw(u8))


xtr_ids = st.builds(XtrId, st.integers(0, 2**128 - 1), st.integers(0, 2**64 - 1))


@st.composite
def map_requests(draw: st.DrawFn, shapes: Shapes = EVERYTHING) -> MapRequest:
    return MapRequest(
        nonce=draw(nonces),
        itr_rlocs=tuple(draw(st.lists(ip, min_size=1, max_size=32))),
        records=tuple(draw(st.lists(eid_records(shapes), min_size=1, max_size=3))),
        source_eid=draw(st.one_of(st.just(NO_ADDRESS), ip)),
        authoritative=draw(st.booleans()),
        probe=draw(st.booleans()),
        smr=draw(st.booleans()),
        pitr=draw(st.booleans()),
        smr_invoked=draw(st.booleans()),
        reserved_r=draw(st.booleans()),
        local_xtr=draw(st.booleans()),
        dont_map_reply=draw(st.booleans()),
        map_reply_record=draw(st.none() | mapping_records(shapes)),
        xtr_id=draw(st.none() | xtr_ids) if shapes.request_xtr_ids else None,
        reserved=draw(st.integers(0, 0x1F)),
    )


def map_replies(shapes: Shapes = EVERYTHING) -> st.SearchStrategy[MapReply]:
    return st.builds(
        MapReply,
        nonce=nonces,
        records=st.lists(mapping_records(shapes), max_size=3).map(tuple),
        probe=st.booleans(),
        echo_nonce=st.booleans(),
        security=st.booleans(),
        reserved=st.integers(0, 2**17 - 1),
    )


@st.composite
def auth_fields(draw: st.DrawFn, shapes: Shapes = EVERYTHING) -> dict[str, Any]:
    algorithm = draw(st.sampled_from(AlgorithmId))
    return {
        "key_id": draw(shapes.key_ids),
        "algorithm": algorithm,
        "auth_data": draw(
            st.binary(min_size=algorithm.digest_length, max_size=algorithm.digest_length)
        ),
    }


@st.composite
def map_registers(draw: st.DrawFn, shapes: Shapes = EVERYTHING) -> MapRegister:
    return MapRegister(
        nonce=draw(nonces),
        records=tuple(draw(st.lists(mapping_records(shapes), max_size=3))),
        proxy_reply=draw(st.booleans()),
        security=draw(st.booleans()),
        eid_notify=draw(st.booleans()),
        use_ttl_for_timeout=draw(st.booleans()),
        merge_request=draw(st.booleans()),
        rtr=draw(st.booleans()),
        want_map_notify=draw(st.booleans()),
        xtr_id=draw(st.none() | xtr_ids),
        reserved=draw(st.integers(0, 0xFFF)) << 13,
        **draw(auth_fields(shapes)),
    )


@st.composite
def map_notifies(draw: st.DrawFn, shapes: Shapes = EVERYTHING) -> MapNotify | MapNotifyAck:
    xtr_id = draw(st.none() | xtr_ids)
    notify = draw(st.booleans())
    return (MapNotify if notify else MapNotifyAck)(
        nonce=draw(nonces),
        records=tuple(draw(st.lists(mapping_records(shapes), max_size=3))),
        i_bit=xtr_id is not None,
        rtr=shapes.notify_rtr and draw(st.booleans()),
        xtr_id=xtr_id,
        reserved=draw(st.integers(0, 0x3FFFF)) << 8,
        **draw(auth_fields(shapes)),
    )


@st.composite
def referral_records(draw: st.DrawFn, shapes: Shapes = EVERYTHING) -> ReferralRecord:
    eid, mask = draw(eid_and_mask(shapes))
    return ReferralRecord(
        eid=eid,
        eid_mask_len=mask,
        ttl=draw(u32),
        action=draw(st.sampled_from(ReferralAction)),
        authoritative=draw(st.booleans()),
        incomplete=draw(st.booleans()),
        map_version=draw(st.integers(0, 0xFFF)),
        referrals=tuple(draw(st.lists(locators(shapes), max_size=3))),
    )


def map_referrals(shapes: Shapes = EVERYTHING) -> st.SearchStrategy[MapReferral]:
    return st.builds(
        MapReferral,
        nonce=nonces,
        records=st.lists(referral_records(shapes), max_size=3).map(tuple),
    )


@st.composite
def infos(draw: st.DrawFn, shapes: Shapes = EVERYTHING) -> InfoRequest | InfoReply:
    eid, mask = draw(eid_and_mask(shapes))
    common: dict[str, Any] = {
        "nonce": draw(nonces),
        "eid": eid,
        "eid_mask_len": mask,
        "ttl": draw(u32),
        "reserved": draw(st.integers(0, 0x07FFFFFF)),
        **draw(auth_fields(shapes)),
    }
    if draw(st.booleans()):
        return InfoReply(nat=draw(shapes.nat), **common)
    return InfoRequest(**common)


@st.composite
def ecms(draw: st.DrawFn, shapes: Shapes = EVERYTHING) -> Ecm:
    v4 = draw(st.booleans())
    family: st.SearchStrategy[IPv4Address | IPv6Address] = ipv4 if v4 else ipv6
    checksum = draw(u16) if shapes.random_ecm_checksum else None
    return Ecm(
        source=draw(family),
        destination=draw(family),
        source_port=draw(shapes.ecm_source_ports),
        tos=draw(u8),
        ip_flags=draw(shapes.ecm_ip_flags) if v4 else 0,
        flow_label=0 if v4 else draw(st.integers(0, 0xFFFFF)),
        destination_port=draw(shapes.ecm_inner_ports),
        message=draw(st.one_of(map_requests(shapes), map_replies(shapes), map_registers(shapes))),
        security=draw(st.booleans()),
        ddt=draw(st.booleans()),
        to_etr=draw(st.booleans()),
        to_ms=draw(st.booleans()),
        reserved=draw(st.integers(0, 0xFFFFFF)),
        ttl=draw(u8),
        ip_id=draw(u16) if v4 else 0,
        udp_checksum=checksum,
    )


def control_messages_of(shapes: Shapes) -> st.SearchStrategy[ControlMessage]:
    """Every control message type, built from `shapes`."""
    return st.one_of(
        map_requests(shapes),
        map_replies(shapes),
        map_registers(shapes),
        map_notifies(shapes),
        map_referrals(shapes),
        infos(shapes),
        ecms(shapes),
    )


control_messages = control_messages_of(EVERYTHING)

# What Wireshark 4.0's LISP dissector takes apart cleanly (see the tshark cross-check):
# every EID kind, locators with at most one level of LCAF around IP addresses, no
# Map-Request xTR-ID, no R bit in Map-Notify (it then expects MS-RTR data), no
# opaque LCAF types, ECM inner UDP checksums that are right.
_tshark_nat = st.builds(NatTraversal, u16, u16, ip, ip, ip, st.lists(ip, max_size=2).map(tuple))
_tshark_hops = st.builds(Hop, ip, st.booleans(), st.booleans(), st.booleans())
TSHARK = Shapes(
    eids=st.one_of(eid_addresses, st.builds(DistinguishedName, names)),
    rlocs=st.one_of(
        simple_addresses,
        instance_ids,
        st.builds(AfiList, st.lists(ip, max_size=3).map(tuple)),
        st.builds(ExplicitLocatorPath, st.lists(_tshark_hops, max_size=3).map(tuple)),
        st.builds(AsNumber, u32, ip),
        _tshark_nat,
    ),
    nat=_tshark_nat,
    key_ids=u8,
    request_xtr_ids=False,
    random_ecm_checksum=False,
    notify_rtr=False,
    ecm_inner_ports=st.just(4342),  # else tshark does not look inside
    ecm_source_ports=st.just(4342) | st.integers(49152, 65535),  # no well-known port
    ecm_ip_flags=st.sampled_from([0, 0x4000]),  # no fragments (nor evil bits)
)
tshark_control_messages = control_messages_of(TSHARK)


@st.composite
def data_headers(draw: st.DrawFn, echo_needs_nonce: bool = False) -> DataHeader:
    """Data-plane headers; `echo_needs_nonce` keeps E clear without N (RFC 9300 5.3)."""
    versioned = draw(st.booleans())
    with_iid = draw(st.booleans())
    nonce_present = not versioned and draw(st.booleans())
    return DataHeader(
        nonce_present=nonce_present,
        lsb_present=draw(st.booleans()),
        echo_nonce=(nonce_present or not echo_needs_nonce) and draw(st.booleans()),
        map_version_present=versioned,
        instance_id_present=with_iid,
        reserved_flags=draw(st.integers(0, 7)),
        nonce=0 if versioned else draw(st.integers(0, 0xFFFFFF)),
        source_map_version=draw(st.integers(0, 0xFFF)) if versioned else 0,
        dest_map_version=draw(st.integers(0, 0xFFF)) if versioned else 0,
        instance_id=draw(st.integers(0, 0xFFFFFF)) if with_iid else 0,
        lsb=draw(st.integers(0, 0xFF if with_iid else 0xFFFFFFFF)),
    )


@st.composite
def data_packets(draw: st.DrawFn, echo_needs_nonce: bool = False) -> DataPacket:
    """A LISP header around an inner IPv4 or IPv6 UDP packet with right checksums."""
    family: st.SearchStrategy[IPv4Address | IPv6Address] = draw(st.sampled_from([ipv4, ipv6]))
    ports = st.integers(1024, 4000)  # clear of 4341/4342, so the inner packet is not LISP
    inner = build_udp_packet(
        draw(family), draw(family), draw(ports), draw(ports), draw(st.binary(max_size=64))
    )
    return DataPacket(header=draw(data_headers(echo_needs_nonce)), inner=inner)
