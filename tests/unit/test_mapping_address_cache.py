"""The daemon's address cache: recvfrom's text parsed once, sendto's formatted once."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from lispstack.mapping import address_cache
from lispstack.mapping.address_cache import AddressCache


def test_parse_and_text_round_trip_and_share_objects() -> None:
    cache = AddressCache()
    first = cache.parse("192.0.2.1")
    assert first == IPv4Address("192.0.2.1") and cache.parse("192.0.2.1") is first
    assert cache.parse("fe80::1%eth0") == IPv6Address("fe80::1")
    assert cache.text(IPv6Address("2001:db8::1")) == "2001:db8::1"
    assert cache.text(first) is cache.text(IPv4Address("192.0.2.1"))


def test_tables_stay_bounded() -> None:
    cache = AddressCache()
    for index in range(3 * address_cache.MAX_REMEMBERED):
        address = cache.parse(str(IPv4Address(0x0A000000 + index)))
        assert cache.text(address) == str(address)
    assert len(cache._parsed.entries) <= address_cache.MAX_REMEMBERED
    assert len(cache._texts.entries) <= address_cache.MAX_REMEMBERED
