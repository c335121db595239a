"""EID prefix and address parsing of the config layer."""

from __future__ import annotations

from ipaddress import IPv6Address, ip_network

import pytest

from lispstack.config import ConfigPrefix, parse_prefix
from lispstack.config.prefix import parse_address


@pytest.mark.parametrize(
    ("text", "iid", "network"),
    [
        ("192.168.1.0/24", 0, "192.168.1.0/24"),
        ("2001:db8::/32", 0, "2001:db8::/32"),
        ("[100]10.1.0.0/16", 100, "10.1.0.0/16"),
        ("[0]0.0.0.0/0", 0, "0.0.0.0/0"),
        ("[16777215]::/0", 16777215, "::/0"),
    ],
)
def test_accepted_prefixes(text: str, iid: int, network: str) -> None:
    assert parse_prefix(text) == ConfigPrefix(iid=iid, network=ip_network(network))


@pytest.mark.parametrize(
    "text",
    ["192.168.1.0", "192.168.1.0/255.255.255.0", "[x]10.0.0.0/8", " 10.0.0.0/8", "10.0.0/8", ""],
)
def test_rejected_prefixes(text: str) -> None:
    with pytest.raises(ValueError, match="bad"):
        parse_prefix(text)


def test_str_shows_the_instance_id_only_when_not_zero() -> None:
    assert str(parse_prefix("[100]10.1.0.0/16")) == "[100]10.1.0.0/16"
    assert str(parse_prefix("[0]10.1.0.0/16")) == "10.1.0.0/16"


def test_instance_id_is_checked_on_construction() -> None:
    with pytest.raises(ValueError, match="instance-id"):
        ConfigPrefix(iid=1 << 24, network=ip_network("10.0.0.0/8"))


def test_addresses() -> None:
    assert parse_address("2001:db8::1") == IPv6Address("2001:db8::1")
    for bad in ("fe80::1%eth0", "10.0.0.1/32", "host.example", ""):
        with pytest.raises(ValueError, match="bad IP address"):
            parse_address(bad)
