"""Map-Referral records (RFC 8111 section 6.4) as DDT nodes and DDT Map-Servers answer them.

    action              TTL (minutes)   A  I  EID prefix, referral set
    node-referral       delegation's    1  0  the delegation, its child DDT nodes
    ms-referral         delegation's    1  0  the delegation, its Map-Servers
    ms-ack              1440            1  1  the registered prefix, none
    ms-not-registered   1               1  1  the site prefix, none
    delegation-hole     15              1  0  least-specific prefix holding the EID
                                              that overlaps no delegation (no site,
                                              on a Map-Server), none
    not-authoritative   0               0  1  the requested prefix, none

A Map-Server sets I on its answers: it is not configured with the other
Map-Servers of the prefix, so the (empty) referral set is incomplete and the
DDT client keeps the Map-Servers it was referred to. A hole carries no
referral set by definition, so its set is not incomplete.
Map-Referrals go to the source address and port of the DDT Map-Request's ECM.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address

from lispstack.config.model import DelegationChild
from lispstack.core.replies import prefix_eid
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.wire.map_referral import MapReferral, ReferralAction, ReferralRecord
from lispstack.wire.records import Locator

MS_ACK_TTL = 1440
MS_NOT_REGISTERED_TTL = 1
DELEGATION_HOLE_TTL = 15
NOT_AUTHORITATIVE_TTL = 0


def ref_locators(children: Iterable[DelegationChild]) -> tuple[Locator, ...]:
    return tuple(
        Locator(address=child.address, priority=child.priority, weight=child.weight)
        for child in children
    )


def referral_record(
    action: ReferralAction,
    prefix: EidPrefix,
    ttl: int,
    referrals: tuple[Locator, ...] = (),
    *,
    incomplete: bool = False,
) -> ReferralRecord:
    """A record for `prefix`; authoritative unless the action is NOT-AUTHORITATIVE."""
    return ReferralRecord(
        eid=prefix_eid(prefix),
        eid_mask_len=prefix.network.prefixlen,
        ttl=ttl,
        action=action,
        authoritative=action is not ReferralAction.NOT_AUTHORITATIVE,
        incomplete=incomplete,
        referrals=referrals,
    )


def referral_order(record: ReferralRecord) -> list[IPAddress]:
    """The referral set in the order to try it: priority, then heavier first; 255 never."""
    usable = [loc for loc in record.referrals if loc.priority != 255]
    ordered = sorted(usable, key=lambda loc: (loc.priority, -loc.weight))
    return [loc.address for loc in ordered if isinstance(loc.address, IPv4Address | IPv6Address)]


def encode_referral(nonce: int, record: ReferralRecord) -> bytes:
    return MapReferral(nonce=nonce, records=(record,)).encode()
