"""EID prefixes as written in a config file: "10.1.0.0/16", "2001:db8::/32", "[100]10.1.0.0/16"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

MAX_IID = (1 << 24) - 1
"""Instance-ids are 24 bits: the data-plane header has no room for more."""

_PREFIX = re.compile(r"(?:\[(?P<iid>[0-9]+)\])?(?P<address>[0-9A-Fa-f:.]+)/(?P<length>[0-9]{1,3})")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigPrefix:
    """An EID prefix: instance-id plus an IPv4 or IPv6 network (host bits clear)."""

    iid: int
    network: IPNetwork

    def __post_init__(self) -> None:
        if not 0 <= self.iid <= MAX_IID:
            raise ValueError(f"instance-id {self.iid} out of range 0-{MAX_IID}")

    def __str__(self) -> str:
        return f"[{self.iid}]{self.network}" if self.iid else str(self.network)


def parse_prefix(text: str) -> ConfigPrefix:
    """Parse "[iid]address/length"; raise ValueError saying what is wrong."""
    match = _PREFIX.fullmatch(text)
    if match is None:
        raise ValueError(
            f"bad EID prefix {text!r} (expected e.g. '192.168.1.0/24', '2001:db8::/32'"
            " or '[100]10.1.0.0/16')"
        )
    iid = int(match["iid"]) if match["iid"] is not None else 0
    if iid > MAX_IID:
        raise ValueError(f"instance-id {iid} in {text!r} out of range 0-{MAX_IID}")
    address_text, length = match["address"], int(match["length"])
    try:
        address = ip_address(address_text)
    except ValueError:
        raise ValueError(f"bad address {address_text!r} in EID prefix {text!r}") from None
    if length > address.max_prefixlen:
        raise ValueError(
            f"prefix length {length} in {text!r} longer than {address.max_prefixlen} bits"
        )
    network = ip_network(f"{address}/{length}", strict=False)
    prefix = ConfigPrefix(iid=iid, network=network)
    if network.network_address != address:
        raise ValueError(f"{text!r} has host bits set (did you mean '{prefix}'?)")
    return prefix


def parse_address(text: str) -> IPAddress:
    """Parse a plain IPv4 or IPv6 address (no prefix length, no zone); raise ValueError."""
    if "%" not in text:
        try:
            return ip_address(text)
        except ValueError:
            pass
    raise ValueError(f"bad IP address {text!r}")
