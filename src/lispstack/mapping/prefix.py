"""EID prefixes as map keys: an instance-id plus an IPv4 or IPv6 network."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from typing import TypeAlias

IPAddress: TypeAlias = IPv4Address | IPv6Address
IPNetwork: TypeAlias = IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True, order=True)
class EidPrefix:
    iid: int
    network: IPNetwork

    @classmethod
    def parse(cls, text: str) -> EidPrefix:
        """ "192.168.1.0/24", "2001:db8::/32" or "[100]10.1.0.0/16"."""
        iid = 0
        if text.startswith("["):
            close = text.index("]")
            iid, text = int(text[1:close]), text[close + 1 :]
        return cls(iid, ip_network(text))

    @classmethod
    def host(cls, iid: int, address: IPAddress) -> EidPrefix:
        return cls(iid, ip_network(address))

    @property
    def family(self) -> int:
        return self.network.version

    def contains(self, other: EidPrefix) -> bool:
        return (
            self.iid == other.iid
            and self.family == other.family
            and other.network.subnet_of(self.network)  # type: ignore[arg-type]
        )

    def overlaps(self, other: EidPrefix) -> bool:
        return self.contains(other) or other.contains(self)

    def __str__(self) -> str:
        return f"[{self.iid}]{self.network}" if self.iid else str(self.network)
