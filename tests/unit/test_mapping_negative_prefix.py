"""The negative Map-Reply prefix (RFC 9301 Map-Resolver rule), on the documented examples."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from lispstack.mapping.negative_prefix import NegativePrefixFinder
from lispstack.mapping.prefix import EidPrefix

P = EidPrefix.parse

SITES = [P(text) for text in ["10.200.1.0/24", "10.200.2.0/24", "10.201.0.0/16", "10.202.0.0/16"]]


@pytest.mark.parametrize(
    ("eid", "expected"),
    [
        ("10.50.0.1", "10.0.0.0/9"),
        ("192.0.2.1", "128.0.0.0/1"),
        ("10.200.0.1", "10.200.0.0/24"),
    ],
)
def test_protocol_notes_examples(eid: str, expected: str) -> None:
    finder = NegativePrefixFinder(SITES)
    assert finder.find(0, ip_address(eid)) == P(expected)


def test_seed_scenario() -> None:
    finder = NegativePrefixFinder([P("192.168.1.0/24"), P("192.168.2.0/24")])
    assert finder.find(0, ip_address("4.2.2.2")) == P("0.0.0.0/1")


def test_no_sites_gives_the_whole_space() -> None:
    finder = NegativePrefixFinder(SITES)
    assert finder.find(0, ip_address("2001:db8::1")) == P("::/0")
    assert finder.find(7, ip_address("10.200.1.1")) == P("[7]0.0.0.0/0")
    assert NegativePrefixFinder().find(0, ip_address("4.2.2.2")) == P("0.0.0.0/0")


def test_ipv6_and_instance_ids() -> None:
    finder = NegativePrefixFinder([P("2001:db8:1::/48"), P("[200]2001:db8:2::/48")])
    assert finder.find(0, ip_address("2001:db8:2::1")) == P("2001:db8:2::/47")
    assert finder.find(0, ip_address("fe80::1")) == P("8000::/1")
    assert finder.find(200, ip_address("2001:db8:1::1")) == P("[200]2001:db8::/47")


def test_neighbour_on_either_side() -> None:
    finder = NegativePrefixFinder([P("10.0.0.0/24"), P("10.0.2.0/24")])
    # The closest site lies above the EID, then below it.
    assert finder.find(0, ip_address("10.0.1.1")) == P("10.0.1.0/24")
    assert finder.find(0, ip_address("9.255.255.255")) == P("8.0.0.0/7")
    assert finder.find(0, ip_address("10.0.3.1")) == P("10.0.3.0/24")


def test_same_network_address_with_two_lengths() -> None:
    finder = NegativePrefixFinder([P("10.0.0.0/16"), P("10.0.0.0/24"), P("10.0.0.0/16")])
    assert finder.find(0, ip_address("10.1.0.1")) == P("10.1.0.0/16")
    finder.remove(P("10.0.0.0/16"))
    assert finder.find(0, ip_address("10.1.0.1")) == P("10.1.0.0/16")


def test_add_and_remove_after_finds() -> None:
    finder = NegativePrefixFinder([P("192.168.1.0/24")])
    assert finder.find(0, ip_address("4.2.2.2")) == P("0.0.0.0/1")
    finder.add(P("4.0.0.0/8"))
    assert finder.find(0, ip_address("4.2.2.2")) != P("0.0.0.0/1")  # now inside a site
    assert finder.find(0, ip_address("5.2.2.2")) == P("5.0.0.0/8")
    assert len(finder) == 2
    finder.remove(P("4.0.0.0/8"))
    assert finder.find(0, ip_address("5.2.2.2")) == P("0.0.0.0/1")
    finder.remove(P("192.168.1.0/24"))
    assert len(finder) == 0
    assert finder.find(0, ip_address("5.2.2.2")) == P("0.0.0.0/0")
    with pytest.raises(KeyError):
        finder.remove(P("192.168.1.0/24"))


def test_find_length_on_integers() -> None:
    finder = NegativePrefixFinder(SITES)
    assert finder.find_length(0, 4, int(ip_address("10.50.0.1"))) == 9
    assert finder.find_length(0, 6, 1) == 0
