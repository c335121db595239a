"""The LISP-DDT node role (RFC 8111 section 7.3): Map-Referrals for DDT Map-Requests.

A DDT Map-Request is a Map-Request in an ECM with the D bit set (RFC 8111
section 5: the DDT client sets it). For its first EID record:

    EID in a delegation          NODE-REFERRAL (children are DDT nodes) or
                                 MS-REFERRAL (children are Map-Servers)
                                               referral.node-referral / .ms-referral
    EID in an authoritative      DELEGATION-HOLE for the least-specific prefix
    prefix, in no delegation     holding the EID inside the authoritative prefix
                                 that overlaps no delegation  referral.delegation-hole
    otherwise                    NOT-AUTHORITATIVE for the requested prefix
                                               referral.not-authoritative

TTLs and flags: see core/referrals.py. The answer goes to the ECM's outer
source address and port, counted as "out.map-referral". An ECM without the D
bit, or holding something else than a Map-Request, is a counted drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address

from lispstack.config.model import Delegation, DelegationChild, DelegationKind, NodeConfig
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.events import Action, DatagramReceived, SendDatagram
from lispstack.core.referrals import (
    DELEGATION_HOLE_TTL,
    NOT_AUTHORITATIVE_TTL,
    encode_referral,
    ref_locators,
    referral_record,
)
from lispstack.core.role import Role
from lispstack.mapping.negative_prefix import NegativePrefixFinder
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.prefix_table import PrefixTable
from lispstack.wire.address import split_instance_id
from lispstack.wire.control import ControlMessage
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_referral import ReferralAction, ReferralRecord
from lispstack.wire.map_request import MapRequest
from lispstack.wire.message_type import MessageType
from lispstack.wire.records import Locator

_DELEGATION_ACTION = {
    DelegationKind.NODE: ReferralAction.NODE_REFERRAL,
    DelegationKind.MAP_SERVER: ReferralAction.MS_REFERRAL,
}


class DdtNode(Role):
    name = "ddt-node"
    control_types = frozenset({MessageType.ECM})

    def __init__(
        self,
        authoritative: Sequence[EidPrefix],
        delegations: Sequence[tuple[EidPrefix, Delegation]],
        counters: Counters,
        drops: DropRecorder,
    ) -> None:
        self.counters = counters
        self.drops = drops
        self._authoritative: PrefixTable[EidPrefix] = PrefixTable()
        self._delegations: PrefixTable[ReferralRecord] = PrefixTable()
        self._holes = NegativePrefixFinder(())
        self._load(authoritative, delegations)

    def _load(
        self,
        authoritative: Sequence[EidPrefix],
        delegations: Sequence[tuple[EidPrefix, Delegation]],
    ) -> None:
        self._authoritative.clear()
        for prefix in authoritative:
            self._authoritative[prefix] = prefix
        self._delegations.clear()
        referral_sets: dict[tuple[DelegationChild, ...], tuple[Locator, ...]] = {}
        """One tuple of locators per distinct set of children: many delegations share one."""
        for prefix, delegation in delegations:
            children = delegation.children
            referrals = referral_sets.get(children)
            if referrals is None:
                referrals = referral_sets[children] = ref_locators(children)
            self._delegations[prefix] = referral_record(
                _DELEGATION_ACTION[delegation.kind], prefix, delegation.ttl, referrals
            )
        self._holes = NegativePrefixFinder(prefix for prefix, _ in delegations)

    @classmethod
    def from_config(cls, config: NodeConfig, counters: Counters, drops: DropRecorder) -> DdtNode:
        return cls(*_tables(config), counters, drops)

    def reconfigure(self, config: NodeConfig, now: float) -> list[Action]:
        """New `[[ddt-prefixes]]` and `[[delegations]]`: answered from the next request on."""
        self._load(*_tables(config))
        return []

    def handle_control(
        self, message: ControlMessage, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        source = str(datagram.source.address)
        if not isinstance(message, Ecm) or not isinstance(message.message, MapRequest):
            return list(self.drops.drop("ecm-not-map-request", source, now))
        if not message.ddt:
            return list(self.drops.drop("not-ddt-request", source, now))
        request = message.message
        eid_record = request.records[0]
        iid, eid = split_instance_id(eid_record.eid)
        if not isinstance(eid, IPv4Address | IPv6Address):
            return list(self.drops.drop("unsupported-eid", source, now, str(eid)))
        record = self.referral(iid, eid, eid_record.eid_mask_len)
        self.counters.add(f"referral.{record.action.label}")
        self.counters.add("out.map-referral")
        return [SendDatagram(encode_referral(request.nonce, record), datagram.source)]

    def referral(self, iid: int, eid: IPAddress, mask_len: int) -> ReferralRecord:
        """The referral record answering a DDT Map-Request for `eid` (asked as /`mask_len`)."""
        delegated = self._delegations.lookup(iid, eid)
        if delegated is not None:
            return delegated[1]
        authority = self._authoritative.lookup(iid, eid)
        if authority is None:
            asked = EidPrefix(iid, EidPrefix.host(iid, eid).network.supernet(new_prefix=mask_len))
            return referral_record(
                ReferralAction.NOT_AUTHORITATIVE, asked, NOT_AUTHORITATIVE_TTL, incomplete=True
            )
        return referral_record(
            ReferralAction.DELEGATION_HOLE, self._hole(iid, eid, authority[0]), DELEGATION_HOLE_TTL
        )

    def _hole(self, iid: int, eid: IPAddress, authority: EidPrefix) -> EidPrefix:
        # Least specific not overlapping a delegation, but never wider than the authority.
        length = max(
            self._holes.find_length(iid, eid.version, int(eid)), authority.network.prefixlen
        )
        return EidPrefix(iid, EidPrefix.host(iid, eid).network.supernet(new_prefix=length))

    def show(self, topic: str, arg: str | None, now: float) -> object | None:
        """`delegations`: each authoritative prefix, then each delegation with its referral set."""
        if topic != "delegations":
            return None
        authoritative = [
            {"eid": str(p.network), "iid": p.iid, "action": "authoritative"}
            for p in self._authoritative
        ]
        return authoritative + [record.to_json() for record in self._delegations.values()]

    def gauges(self) -> dict[str, int]:
        return {"delegations": len(self._delegations)}


def _tables(
    config: NodeConfig,
) -> tuple[list[EidPrefix], list[tuple[EidPrefix, Delegation]]]:
    return (
        [EidPrefix(p.iid, p.network) for p in config.ddt_prefixes],
        [(EidPrefix(d.eid_prefix.iid, d.eid_prefix.network), d) for d in config.delegations],
    )
