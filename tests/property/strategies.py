"""Hypothesis strategies for every wire object."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from hypothesis import strategies as st

from lispstack.wire import (
    NO_ADDRESS,
    Action,
    Address,
    AfiList,
    AlgorithmId,
    AsNumber,
    DataHeader,
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
ipv4 = st.builds(IPv4Address, u32)
ipv6 = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
ip = st.one_of(ipv4, ipv6)
names = st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=20)

simple_addresses: st.SearchStrategy[Address] = st.one_of(
    st.just(NO_ADDRESS),
    ipv4,
    ipv6,
    st.builds(MacAddress, st.binary(min_size=6, max_size=6)),
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
    family = draw(st.sampled_from([ipv4, ipv6]))
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
    st.one_of(ipv4, ipv6, st.builds(MacAddress, st.binary(min_size=6, max_size=6))),
    st.integers(0, 32),
)
addresses: st.SearchStrategy[Address] = st.one_of(
    nested_addresses, source_dest_keys(), nat_traversals, opaque_lcafs, instance_ids
)
eid_addresses: st.SearchStrategy[Address] = st.one_of(
    ipv4,
    ipv6,
    st.builds(InstanceId, u32, st.one_of(ipv4, ipv6)),
    st.builds(MacAddress, st.binary(min_size=6, max_size=6)),
    source_dest_keys(),
)


@st.composite
def eid_and_mask(draw: st.DrawFn) -> tuple[Address, int]:
    eid = draw(eid_addresses)
    return eid, draw(st.integers(0, min(max_mask_len(eid), 255)))


locators = st.builds(
    Locator,
    address=addresses,
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
def mapping_records(draw: st.DrawFn) -> MappingRecord:
    eid, mask = draw(eid_and_mask())
    return MappingRecord(
        eid=eid,
        eid_mask_len=mask,
        ttl=draw(u32),
        action=draw(st.sampled_from(Action)),
        authoritative=draw(st.booleans()),
        map_version=draw(st.integers(0, 0xFFF)),
        locators=tuple(draw(st.lists(locators, max_size=3))),
        reserved=draw(st.integers(0, 0xFFF)),
    )


@st.composite
def eid_records(draw: st.DrawFn) -> EidRecord:
    eid, mask = draw(eid_and_mask())
    return EidRecord(eid=eid, eid_mask_len=mask, reserved=draw(u8))


xtr_ids = st.builds(XtrId, st.integers(0, 2**128 - 1), st.integers(0, 2**64 - 1))

map_requests = st.builds(
    MapRequest,
    nonce=nonces,
    itr_rlocs=st.lists(ip, min_size=1, max_size=32).map(tuple),
    records=st.lists(eid_records(), min_size=1, max_size=3).map(tuple),
    source_eid=st.one_of(st.just(NO_ADDRESS), ip),
    authoritative=st.booleans(),
    probe=st.booleans(),
    smr=st.booleans(),
    pitr=st.booleans(),
    smr_invoked=st.booleans(),
    pubsub=st.booleans(),
    local_xtr=st.booleans(),
    dont_map_reply=st.booleans(),
    map_reply_record=st.none() | mapping_records(),
    xtr_id=st.none() | xtr_ids,
    reserved=st.integers(0, 0x1F),
)
map_replies = st.builds(
    MapReply,
    nonce=nonces,
    records=st.lists(mapping_records(), max_size=3).map(tuple),
    probe=st.booleans(),
    echo_nonce=st.booleans(),
    security=st.booleans(),
    reserved=st.integers(0, 2**17 - 1),
)


@st.composite
def auth_fields(draw: st.DrawFn) -> dict[str, object]:
    algorithm = draw(st.sampled_from(AlgorithmId))
    return {
        "key_id": draw(u8),
        "algorithm": algorithm,
        "auth_data": draw(
            st.binary(min_size=algorithm.digest_length, max_size=algorithm.digest_length)
        ),
    }


@st.composite
def map_registers(draw: st.DrawFn) -> MapRegister:
    return MapRegister(
        nonce=draw(nonces),
        records=tuple(draw(st.lists(mapping_records(), max_size=3))),
        proxy_reply=draw(st.booleans()),
        security=draw(st.booleans()),
        eid_notify=draw(st.booleans()),
        use_ttl_for_timeout=draw(st.booleans()),
        merge_request=draw(st.booleans()),
        rtr=draw(st.booleans()),
        want_map_notify=draw(st.booleans()),
        xtr_id=draw(st.none() | xtr_ids),
        reserved=draw(st.integers(0, 0xFFF)) << 13,
        **draw(auth_fields()),  # type: ignore[arg-type]
    )


@st.composite
def map_notifies(draw: st.DrawFn) -> MapNotify | MapNotifyAck:
    cls = draw(st.sampled_from([MapNotify, MapNotifyAck]))
    xtr_id = draw(st.none() | xtr_ids)
    return cls(
        nonce=draw(nonces),
        records=tuple(draw(st.lists(mapping_records(), max_size=3))),
        i_bit=xtr_id is not None,
        rtr=draw(st.booleans()),
        xtr_id=xtr_id,
        reserved=draw(st.integers(0, 0x3FFFF)) << 8,
        **draw(auth_fields()),  # type: ignore[arg-type]
    )


@st.composite
def referral_records(draw: st.DrawFn) -> ReferralRecord:
    eid, mask = draw(eid_and_mask())
    return ReferralRecord(
        eid=eid,
        eid_mask_len=mask,
        ttl=draw(u32),
        action=draw(st.sampled_from(ReferralAction)),
        authoritative=draw(st.booleans()),
        incomplete=draw(st.booleans()),
        map_version=draw(st.integers(0, 0xFFF)),
        referrals=tuple(draw(st.lists(locators, max_size=3))),
    )


map_referrals = st.builds(
    MapReferral, nonce=nonces, records=st.lists(referral_records(), max_size=3).map(tuple)
)


@st.composite
def infos(draw: st.DrawFn) -> InfoRequest | InfoReply:
    eid, mask = draw(eid_and_mask())
    common = {
        "nonce": draw(nonces),
        "eid": eid,
        "eid_mask_len": mask,
        "ttl": draw(u32),
        "reserved": draw(st.integers(0, 0x07FFFFFF)),
        **draw(auth_fields()),
    }
    if draw(st.booleans()):
        return InfoReply(nat=draw(nat_traversals), **common)  # type: ignore[arg-type]
    return InfoRequest(**common)  # type: ignore[arg-type]


@st.composite
def ecms(draw: st.DrawFn) -> Ecm:
    v4 = draw(st.booleans())
    family = ipv4 if v4 else ipv6
    return Ecm(
        source=draw(family),
        destination=draw(family),
        source_port=draw(u16),
        tos=draw(u8),
        ip_flags=draw(u16) if v4 else 0,
        flow_label=0 if v4 else draw(st.integers(0, 0xFFFFF)),
        destination_port=draw(u16),
        message=draw(st.one_of(map_requests, map_replies, map_registers())),
        security=draw(st.booleans()),
        ddt=draw(st.booleans()),
        to_etr=draw(st.booleans()),
        to_ms=draw(st.booleans()),
        ttl=draw(u8),
        ip_id=draw(u16) if v4 else 0,
        udp_checksum=draw(u16),
    )


control_messages = st.one_of(
    map_requests, map_replies, map_registers(), map_notifies(), map_referrals, infos(), ecms()
)


@st.composite
def data_headers(draw: st.DrawFn) -> DataHeader:
    versioned = draw(st.booleans())
    with_iid = draw(st.booleans())
    return DataHeader(
        nonce_present=not versioned and draw(st.booleans()),
        lsb_present=draw(st.booleans()),
        echo_nonce=draw(st.booleans()),
        map_version_present=versioned,
        instance_id_present=with_iid,
        reserved_flags=draw(st.integers(0, 7)),
        nonce=0 if versioned else draw(st.integers(0, 0xFFFFFF)),
        source_map_version=draw(st.integers(0, 0xFFF)) if versioned else 0,
        dest_map_version=draw(st.integers(0, 0xFFF)) if versioned else 0,
        instance_id=draw(st.integers(0, 0xFFFFFF)) if with_iid else 0,
        lsb=draw(st.integers(0, 0xFF if with_iid else 0xFFFFFFFF)),
    )
