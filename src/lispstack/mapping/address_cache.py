"""Peer addresses as the socket API spells them, parsed and formatted once.

A node exchanges most of its datagrams with few peers, and turning the text
recvfrom gives into an address object (and back for sendto) costs about as
much as answering a cached Map-Request. Both directions are remembered, in
bounded tables that start afresh when full.
"""

from __future__ import annotations

from ipaddress import ip_address

from lispstack.bounded_cache import BoundedCache
from lispstack.mapping.prefix import IPAddress

MAX_REMEMBERED = 4096


class AddressCache:
    __slots__ = ("_parsed", "_texts")

    def __init__(self) -> None:
        self._parsed: BoundedCache[str, IPAddress] = BoundedCache(MAX_REMEMBERED)
        self._texts: BoundedCache[IPAddress, str] = BoundedCache(MAX_REMEMBERED)

    def parse(self, text: str) -> IPAddress:
        """The address recvfrom named (an IPv6 scope "%eth0" is dropped)."""
        address = self._parsed.entries.get(text)
        if address is None:
            address = self._parsed.put(text, ip_address(text.split("%", 1)[0]))
        return address

    def text(self, address: IPAddress) -> str:
        """`address` as sendto takes it."""
        text = self._texts.entries.get(address)
        if text is None:
            text = self._texts.put(address, str(address))
        return text
