"""The EID prefix a mapping record (or an Info-Request) names."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Protocol

from lispstack.mapping.prefix import EidPrefix
from lispstack.wire.address import Address, split_instance_id


class HasEid(Protocol):
    """A mapping record, or any message naming an EID prefix the same way (Info-Request)."""

    @property
    def eid(self) -> Address: ...

    @property
    def eid_mask_len(self) -> int: ...


def record_prefix(record: HasEid) -> EidPrefix | None:
    """The EidPrefix of an IPv4/IPv6 record (None for other EID kinds)."""
    iid, address = split_instance_id(record.eid)
    if not isinstance(address, IPv4Address | IPv6Address):
        return None
    # From the integer: an address object would be formatted and re-parsed as text.
    network = IPv4Network if isinstance(address, IPv4Address) else IPv6Network
    return EidPrefix(iid, network((int(address), record.eid_mask_len), strict=False))
