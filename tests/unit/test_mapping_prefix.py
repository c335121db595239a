"""EidPrefix: parsing, printing, containment and a total order across families."""

from __future__ import annotations

import heapq
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import pytest

from lispstack.mapping.prefix import EidPrefix


@pytest.mark.parametrize(
    ("text", "iid", "network"),
    [
        ("192.168.1.0/24", 0, IPv4Network("192.168.1.0/24")),
        ("[100]10.1.0.0/16", 100, IPv4Network("10.1.0.0/16")),
        ("2001:db8::/32", 0, IPv6Network("2001:db8::/32")),
        ("[7]2001:db8:1::/48", 7, IPv6Network("2001:db8:1::/48")),
        ("10.0.0.1", 0, IPv4Network("10.0.0.1/32")),
    ],
)
def test_parse(text: str, iid: int, network: IPv4Network | IPv6Network) -> None:
    prefix = EidPrefix.parse(text)
    assert prefix == EidPrefix(iid, network)
    assert EidPrefix.parse(str(prefix)) == prefix


def test_str_omits_instance_zero() -> None:
    assert str(EidPrefix.parse("[0]192.168.1.0/24")) == "192.168.1.0/24"
    assert str(EidPrefix.parse("[100]10.1.0.0/16")) == "[100]10.1.0.0/16"
    assert str(EidPrefix.parse("[5]2001:db8::/32")) == "[5]2001:db8::/32"


@pytest.mark.parametrize("bad", ["[x]10.0.0.0/8", "[1 10.0.0.0/8", "10.0.0.1/8", "10.0.0.0/33"])
def test_parse_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        EidPrefix.parse(bad)


def test_construction_validates() -> None:
    with pytest.raises(ValueError):
        EidPrefix(-1, IPv4Network("10.0.0.0/8"))
    with pytest.raises(ValueError):
        EidPrefix(2**32, IPv4Network("10.0.0.0/8"))
    with pytest.raises(TypeError):
        EidPrefix(0, "10.0.0.0/8")  # type: ignore[arg-type]


def test_family_and_hash() -> None:
    v4, v6 = EidPrefix.parse("10.0.0.0/8"), EidPrefix.parse("2001:db8::/32")
    assert (v4.family, v6.family) == (4, 6)
    assert {v4: 1}[EidPrefix.parse("10.0.0.0/8")] == 1
    assert EidPrefix.parse("[1]10.0.0.0/8") != v4


def test_contains_and_overlaps() -> None:
    outer = EidPrefix.parse("10.0.0.0/8")
    inner = EidPrefix.parse("10.1.0.0/16")
    other = EidPrefix.parse("11.0.0.0/8")
    assert outer.contains(inner) and outer.contains(outer)
    assert not inner.contains(outer)
    assert outer.overlaps(inner) and inner.overlaps(outer)
    assert not outer.overlaps(other)
    assert not outer.contains(EidPrefix.parse("[1]10.1.0.0/16"))
    assert not EidPrefix.parse("::/0").contains(EidPrefix.parse("10.0.0.0/8"))
    assert EidPrefix.parse("0.0.0.0/0").contains(other)


def test_contains_address() -> None:
    prefix = EidPrefix.parse("[3]10.0.0.0/8")
    assert prefix.contains_address(3, IPv4Address("10.9.9.9"))
    assert not prefix.contains_address(0, IPv4Address("10.9.9.9"))
    assert not prefix.contains_address(3, IPv6Address("::a09:909"))


def test_parent() -> None:
    assert EidPrefix.parse("[2]10.128.0.0/9").parent() == EidPrefix.parse("[2]10.0.0.0/8")
    assert EidPrefix.parse("0.0.0.0/0").parent() is None


def test_order_is_total_across_families() -> None:
    prefixes = [
        EidPrefix.parse(text)
        for text in ["2001:db8::/32", "[1]10.0.0.0/8", "10.0.0.0/16", "10.0.0.0/8", "9.0.0.0/8"]
    ]
    assert [str(p) for p in sorted(prefixes)] == [
        "9.0.0.0/8",
        "10.0.0.0/8",
        "10.0.0.0/16",
        "2001:db8::/32",
        "[1]10.0.0.0/8",
    ]
    heap: list[tuple[float, EidPrefix]] = []
    heapq.heappush(heap, (1.0, prefixes[0]))
    heapq.heappush(heap, (1.0, prefixes[3]))  # ipaddress alone would raise TypeError
    assert heapq.heappop(heap)[1] == prefixes[3]
