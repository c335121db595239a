"""The data path's specialised functions agree with the general codecs on the same inputs.

encapsulation_header and decapsulate (wire/data_header.py) against
DataHeader; inner_ints and flow_hash (core/encapsulation.py) against
decode_ip_header; ipv4_udp_unchecked (the io edge's outer header) against
IpUdpHeader.
"""

from __future__ import annotations

import zlib
from ipaddress import IPv4Address

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lispstack.core.encapsulation import flow_hash, inner_ints
from lispstack.wire import DataHeader, DecodeError, Reader
from lispstack.wire.data_header import decapsulate, encapsulation_header
from lispstack.wire.ip_udp import (
    DONT_FRAGMENT,
    IpUdpHeader,
    decode_ip_header,
    ipv4_header,
    ipv4_udp_unchecked,
    ipv6_header,
)
from property.strategies import ipv4, ipv6, u8, u16

SETTINGS = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
PORT_PROTOCOLS = (6, 17, 132)


@SETTINGS
@given(st.integers(0, 0xFFFFFF), st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFF))
def test_encapsulation_header_is_the_checked_header(nonce: int, lsb: int, iid: int) -> None:
    header = DataHeader(
        nonce_present=True,
        lsb_present=True,
        instance_id_present=iid != 0,
        nonce=nonce,
        instance_id=iid,
        lsb=lsb & 0xFF if iid else lsb,
    )
    assert encapsulation_header(nonce, lsb, iid) == header.encode()


@SETTINGS
@given(st.binary(min_size=8, max_size=8), st.binary(max_size=4), st.sampled_from([0x45, 0x60]))
def test_decapsulate_reads_what_data_header_reads(
    header: bytes, inner: bytes, version_byte: int
) -> None:
    for payload in (header + inner, header + bytes([version_byte]) + inner):
        try:
            general = DataHeader.decode_from(Reader(payload))
        except DecodeError:
            general = None
        inner_is_ip = len(payload) > 8 and payload[8] >> 4 in (4, 6)
        try:
            fast = decapsulate(payload)
        except DecodeError:
            assert general is None or not inner_is_ip
            continue
        assert general is not None and inner_is_ip
        assert fast.flags == payload[0]
        assert fast.nonce == (general.nonce if general.nonce_present else None)
        assert fast.iid == (general.instance_id if general.instance_id_present else 0)
        assert fast.lsb == (general.lsb if general.lsb_present else None)
        assert fast.inner == payload[8:]


@st.composite
def ip_packets(draw: st.DrawFn) -> bytes:
    """IPv4 (any flags and fragment offset) or IPv6 packets of any protocol, built by the codec."""
    protocol = draw(st.sampled_from([*PORT_PROTOCOLS, 1, 58]) | u8)
    payload = draw(st.binary(max_size=24))
    if draw(st.booleans()):
        src, dst = draw(ipv4), draw(ipv4)
        flags = draw(st.sampled_from([0, DONT_FRAGMENT, 0x2000, 0x0003]) | u16)
        return ipv4_header(src, dst, protocol, len(payload), ip_flags=flags, ttl=draw(u8)) + payload
    src6, dst6 = draw(ipv6), draw(ipv6)
    return ipv6_header(src6, dst6, protocol, len(payload), hop_limit=draw(u8)) + payload


@SETTINGS
@given(ip_packets())
def test_inner_ints_and_flow_hash_read_what_the_ip_codec_reads(packet: bytes) -> None:
    ip = decode_ip_header(packet)
    assert inner_ints(packet) == (ip.version, int(ip.src), int(ip.dst))
    key = ip.src.packed + ip.dst.packed + bytes([ip.protocol])
    if ip.protocol in PORT_PROTOCOLS and ip.fragment_offset == 0:
        key += packet[ip.header_length : ip.header_length + 4]
    assert flow_hash(packet) == zlib.crc32(key)


@SETTINGS
@given(ipv4, ipv4, u16, u16, st.binary(max_size=64), u8)
def test_ipv4_udp_unchecked_is_the_codec_without_the_header_checksum(
    src: IPv4Address, dst: IPv4Address, sport: int, dport: int, payload: bytes, ttl: int
) -> None:
    general = IpUdpHeader(
        src=src,
        dst=dst,
        sport=sport,
        dport=dport,
        ttl=ttl,
        ip_flags=DONT_FRAGMENT,
        udp_checksum=0,
    ).encode(payload)
    fast = ipv4_udp_unchecked(src.packed, dst.packed, sport, dport, payload, ttl)
    assert fast == general[:10] + b"\0\0" + general[12:]
