"""PrefixTable: exact and longest-prefix lookups per instance-id and family."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.prefix_table import PrefixTable

P = EidPrefix.parse


@pytest.fixture
def table() -> PrefixTable[str]:
    table: PrefixTable[str] = PrefixTable()
    for text in [
        "0.0.0.0/0",
        "10.0.0.0/8",
        "10.1.0.0/16",
        "10.1.2.0/24",
        "[100]10.0.0.0/8",
        "2001:db8::/32",
    ]:
        table[P(text)] = text
    return table


def test_exact(table: PrefixTable[str]) -> None:
    assert table.get(P("10.1.0.0/16")) == "10.1.0.0/16"
    assert table[P("[100]10.0.0.0/8")] == "[100]10.0.0.0/8"
    assert table.get(P("10.2.0.0/16")) is None
    assert P("10.1.2.0/24") in table
    assert P("[7]10.1.2.0/24") not in table
    with pytest.raises(KeyError):
        table[P("10.2.0.0/16")]


def test_longest_prefix_match(table: PrefixTable[str]) -> None:
    assert table.lookup(0, IPv4Address("10.1.2.3")) == (P("10.1.2.0/24"), "10.1.2.0/24")
    assert table.lookup(0, IPv4Address("10.1.3.3")) == (P("10.1.0.0/16"), "10.1.0.0/16")
    assert table.lookup(0, IPv4Address("11.0.0.1")) == (P("0.0.0.0/0"), "0.0.0.0/0")
    assert table.lookup(100, IPv4Address("10.1.2.3")) == (P("[100]10.0.0.0/8"), "[100]10.0.0.0/8")
    assert table.lookup(100, IPv4Address("11.0.0.1")) is None
    assert table.lookup(0, IPv6Address("2001:db8::1")) == (P("2001:db8::/32"), "2001:db8::/32")
    assert table.lookup(0, IPv6Address("2001:db9::1")) is None
    assert table.lookup(5, IPv4Address("10.1.2.3")) is None


def test_replace_and_remove(table: PrefixTable[str]) -> None:
    assert len(table) == 6
    table[P("10.1.0.0/16")] = "replaced"
    assert len(table) == 6
    assert table.lookup(0, IPv4Address("10.1.9.9")) == (P("10.1.0.0/16"), "replaced")
    assert table.pop(P("10.1.2.0/24")) == "10.1.2.0/24"
    assert table.pop(P("10.1.2.0/24")) is None
    assert len(table) == 5
    assert table.lookup(0, IPv4Address("10.1.2.3")) == (P("10.1.0.0/16"), "replaced")
    del table[P("[100]10.0.0.0/8")]
    assert table.lookup(100, IPv4Address("10.1.2.3")) is None
    with pytest.raises(KeyError):
        del table[P("[100]10.0.0.0/8")]
    table.clear()
    assert len(table) == 0 and not table and list(table) == []


def test_covering(table: PrefixTable[str]) -> None:
    assert table.covering(P("10.1.2.128/25")) == (P("10.1.2.0/24"), "10.1.2.0/24")
    assert table.covering(P("10.1.0.0/16")) == (P("10.1.0.0/16"), "10.1.0.0/16")
    assert [p for p, _ in table.covering_all(P("10.1.2.128/25"))] == [
        P("10.1.2.0/24"),
        P("10.1.0.0/16"),
        P("10.0.0.0/8"),
        P("0.0.0.0/0"),
    ]
    assert table.covering_all(P("[9]10.0.0.0/8")) == []
    assert table.covering(P("2001:db9::/32")) is None


def test_more_specifics(table: PrefixTable[str]) -> None:
    assert [p for p, _ in table.more_specifics(P("10.0.0.0/8"))] == [
        P("10.1.0.0/16"),
        P("10.1.2.0/24"),
    ]
    # A prefix that is not itself in the table, and the table is left unchanged.
    assert [p for p, _ in table.more_specifics(P("10.0.0.0/15"))] == [
        P("10.1.0.0/16"),
        P("10.1.2.0/24"),
    ]
    assert P("10.0.0.0/15") not in table and len(table) == 6
    assert table.more_specifics(P("10.1.2.0/24")) == []
    assert table.more_specifics(P("[9]10.0.0.0/8")) == []


def test_iteration_in_prefix_order(table: PrefixTable[str]) -> None:
    assert [str(p) for p in table] == [
        "0.0.0.0/0",
        "10.0.0.0/8",
        "10.1.0.0/16",
        "10.1.2.0/24",
        "2001:db8::/32",
        "[100]10.0.0.0/8",
    ]
    assert next(iter(table.values())) == "0.0.0.0/0"


def test_remove_while_iterating(table: PrefixTable[str]) -> None:
    for prefix, _ in table.items():
        table.pop(prefix)
    assert len(table) == 0


def test_lookup_v4_takes_integers(table: PrefixTable[str]) -> None:
    value = int(IPv4Address("10.1.2.3"))
    assert table.lookup_v4(0, value) == table.lookup(0, IPv4Address(value))
    assert table.lookup_v4(100, value) == (P("[100]10.0.0.0/8"), "[100]10.0.0.0/8")
    assert table.lookup_v4(9, value) is None


def test_emptied_trie_comes_back() -> None:
    table: PrefixTable[int] = PrefixTable()
    table[P("[3]10.0.0.0/8")] = 1
    table.pop(P("[3]10.0.0.0/8"))
    assert table.lookup_v4(3, int(IPv4Address("10.0.0.1"))) is None
    table[P("[3]10.0.0.0/8")] = 2
    assert table.lookup(3, IPv4Address("10.0.0.1")) == (P("[3]10.0.0.0/8"), 2)
    assert len(table) == 1
