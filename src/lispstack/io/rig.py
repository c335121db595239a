"""The Referral Internet Groper: walk LISP-DDT referrals for an EID, hop by hop.

Each hop sends a DDT Map-Request (an ECM with the D bit, RFC 8111 section 5)
to one DDT node and waits for the Map-Referral with its nonce. A
NODE-REFERRAL or MS-REFERRAL leads to its referral set, tried in priority
order (the next one when a node does not answer); any other action ends the
walk. A node asked twice (a referral loop) or more than `max_hops` hops end
it too. This is a diagnostic, like `lig`: no referral cache, one EID.
"""

from __future__ import annotations

import secrets
import socket
import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from lispstack.core.events import CONTROL_PORT, IPAddress
from lispstack.core.referrals import referral_order
from lispstack.io.lig import ecm_map_request, open_itr_socket, receive_answer
from lispstack.wire.map_referral import MapReferral, ReferralAction, ReferralRecord

FOLLOWED = (ReferralAction.NODE_REFERRAL, ReferralAction.MS_REFERRAL)
FOUND = (
    ReferralAction.MS_ACK,
    ReferralAction.MS_NOT_REGISTERED,
    ReferralAction.DELEGATION_HOLE,
)
"""The actions that answer the question (the EID is registered, or known not to be)."""
MAX_HOPS = 16


@dataclass(frozen=True, slots=True)
class RigHop:
    node: IPAddress
    record: ReferralRecord | None
    """None: no Map-Referral within the timeout."""
    rtt_ms: float

    def to_json(self) -> dict[str, Any]:
        if self.record is None:
            return {"node": str(self.node), "action": "no-answer", "referrals": []}
        r = self.record.to_json()
        return {
            "node": str(self.node),
            "action": r["action"],
            "eid_prefix": f"[{r['iid']}]{r['eid']}" if r["iid"] else r["eid"],
            "ttl": r["ttl"],
            "authoritative": r["authoritative"],
            "incomplete": r["incomplete"],
            "referrals": [
                {"address": loc["address"], "priority": loc["priority"], "weight": loc["weight"]}
                for loc in r["referrals"]
            ],
            "rtt_ms": round(self.rtt_ms, 3),
        }


@dataclass(frozen=True, slots=True)
class RigWalk:
    hops: tuple[RigHop, ...]
    outcome: str
    """The last action's label when it answered, else no-answer, loop or too-many-hops."""

    @property
    def found(self) -> bool:
        return self.outcome in {action.label for action in FOUND}


def rig(
    eid: IPv4Address | IPv6Address,
    ddt_node: IPAddress,
    *,
    source: IPAddress | None = None,
    iid: int = 0,
    timeout: float = 2.0,
    max_hops: int = MAX_HOPS,
) -> RigWalk:
    hops: list[RigHop] = []
    asked: set[IPAddress] = set()
    candidates: list[IPAddress] = [ddt_node]
    sock, itr_rloc, port = open_itr_socket(source, ddt_node)
    with sock:
        while candidates:
            node = candidates.pop(0)
            if node in asked:
                return RigWalk(tuple(hops), "loop")
            if len(hops) >= max_hops:
                return RigWalk(tuple(hops), "too-many-hops")
            asked.add(node)
            hop = _ask(sock, node, eid, iid, itr_rloc, port, timeout)
            hops.append(hop)
            if hop.record is None:
                continue  # the next of the referral set, if any
            if hop.record.action not in FOLLOWED:
                return RigWalk(tuple(hops), hop.record.action.label)
            candidates = referral_order(hop.record)
    return RigWalk(tuple(hops), "no-answer")


def _ask(
    sock: socket.socket,
    node: IPAddress,
    eid: IPv4Address | IPv6Address,
    iid: int,
    itr_rloc: IPAddress,
    port: int,
    timeout: float,
) -> RigHop:
    nonce = secrets.randbits(64)
    sent = time.monotonic()
    sock.sendto(
        ecm_map_request(eid, iid, itr_rloc, port, nonce, ddt=True), (str(node), CONTROL_PORT)
    )
    received = receive_answer(sock, sent + timeout, MapReferral, nonce)
    rtt = (time.monotonic() - sent) * 1000
    if not isinstance(received.message, MapReferral) or not received.message.records:
        return RigHop(node, None, rtt)
    return RigHop(node, received.message.records[0], rtt)
