"""EID prefixes as map keys: an instance-id plus an IPv4 or IPv6 network."""

from __future__ import annotations

from dataclasses import dataclass
from functools import total_ordering
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from typing import TypeAlias

IPAddress: TypeAlias = IPv4Address | IPv6Address
IPNetwork: TypeAlias = IPv4Network | IPv6Network

MAX_IID = 2**32 - 1
"""Instance-ids are 32 bits in LCAF type 2 (the data plane carries the low 24)."""


@total_ordering
@dataclass(frozen=True, slots=True)
class EidPrefix:
    """(instance-id, network): immutable, hashable, ordered by iid, family, address, length.

    The order is total across families (IPv4 before IPv6 within an instance-id), unlike
    ipaddress networks, which refuse to compare an IPv4 with an IPv6 network.
    """

    iid: int
    network: IPNetwork

    def __post_init__(self) -> None:
        if not 0 <= self.iid <= MAX_IID:
            raise ValueError(f"instance-id {self.iid} is outside 0..{MAX_IID}")
        if not isinstance(self.network, IPv4Network | IPv6Network):
            raise TypeError(f"network must be an IPv4Network or IPv6Network, not {self.network!r}")

    @classmethod
    def parse(cls, text: str) -> EidPrefix:
        """ "192.168.1.0/24", "2001:db8::/32", "[100]10.1.0.0/16" or "[100]2001:db8::/32".

        A bare address is a host prefix; host bits set after the mask are an error.
        """
        iid = 0
        rest = text.strip()
        if rest.startswith("["):
            close = rest.find("]")
            if close < 0:
                raise ValueError(f"{text!r}: '[' without ']'")
            iid_text = rest[1:close]
            if not iid_text.isdigit():
                raise ValueError(f"{text!r}: instance-id {iid_text!r} is not a number")
            iid, rest = int(iid_text), rest[close + 1 :]
        return cls(iid, ip_network(rest))

    @classmethod
    def host(cls, iid: int, address: IPAddress) -> EidPrefix:
        """The /32 or /128 prefix of one address."""
        return cls(iid, ip_network(address))

    @property
    def family(self) -> int:
        """4 or 6."""
        return self.network.version

    @property
    def length(self) -> int:
        return self.network.prefixlen

    @property
    def sort_key(self) -> tuple[int, int, int, int]:
        return (self.iid, self.network.version, int(self.network.network_address), self.length)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, EidPrefix):
            return NotImplemented
        return self.sort_key < other.sort_key

    def contains(self, other: EidPrefix) -> bool:
        """Same instance and family, and `other` is this prefix or inside it."""
        if self.iid != other.iid or self.family != other.family:
            return False
        mine, theirs = self.network, other.network
        if theirs.prefixlen < mine.prefixlen:
            return False
        shift = mine.max_prefixlen - mine.prefixlen
        return int(theirs.network_address) >> shift == int(mine.network_address) >> shift

    def contains_address(self, iid: int, address: IPAddress) -> bool:
        return iid == self.iid and address.version == self.family and address in self.network

    def overlaps(self, other: EidPrefix) -> bool:
        """Do the two prefixes share any address (one contains the other)?"""
        return self.contains(other) or other.contains(self)

    def parent(self) -> EidPrefix | None:
        """The prefix one bit shorter, or None for /0."""
        if self.length == 0:
            return None
        return EidPrefix(self.iid, self.network.supernet())

    def __str__(self) -> str:
        return f"[{self.iid}]{self.network}" if self.iid else str(self.network)
