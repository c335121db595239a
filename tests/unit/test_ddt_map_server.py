"""The Map-Server as a DDT leaf (RFC 8111 section 7.1): MS-ACK, MS-NOT-REGISTERED, holes."""

from __future__ import annotations

from helpers.mapping_messages import (
    ETR_PORT,
    ITR_PORT,
    KEY_A,
    LISP1,
    LISP2,
    deliver,
    ecm_request,
    general_path_node,
    mapping_node,
    record,
    register,
    sends,
)
from lispstack.core.events import CONTROL_PORT, Endpoint
from lispstack.core.node import Node
from lispstack.wire import Ecm, MapReferral, MapReply, decode_control
from lispstack.wire.map_referral import ReferralAction

RESOLVER_PORT = 53000


def _ask(node: Node, eid: str) -> list[tuple[Endpoint, object]]:
    actions = deliver(node, ecm_request(eid, ddt=True), 1.0, port=RESOLVER_PORT)
    return [(send.destination, decode_control(send.payload)) for send in sends(actions)]


def test_registered_eid_gets_ms_ack_then_the_forward_to_the_etr() -> None:
    node = mapping_node()
    deliver(
        node, register((record("192.168.1.0", 24, LISP2),), KEY_A), 0.0, source=LISP2, port=ETR_PORT
    )
    (to_resolver, referral), (to_etr, forwarded) = _ask(node, "192.168.1.7")
    assert to_resolver == Endpoint(LISP1, RESOLVER_PORT)
    assert isinstance(referral, MapReferral)
    (ack,) = referral.records
    assert (ack.action, ack.ttl, ack.authoritative, ack.incomplete) == (
        ReferralAction.MS_ACK,
        1440,
        True,
        True,
    )
    assert (str(ack.eid), ack.eid_mask_len) == ("192.168.1.0", 24)
    assert to_etr == Endpoint(LISP2, CONTROL_PORT) and isinstance(forwarded, Ecm)
    assert node.counters.get("referral.ms-ack") == 1


def test_proxy_registered_eid_gets_ms_ack_then_the_proxy_reply_to_the_itr() -> None:
    node = mapping_node()
    raw = register((record("192.168.1.0", 24, LISP2),), KEY_A, proxy=True)
    deliver(node, raw, 0.0, source=LISP2, port=ETR_PORT)
    (_, referral), (to_itr, reply) = _ask(node, "192.168.1.7")
    assert isinstance(referral, MapReferral)
    assert referral.records[0].action is ReferralAction.MS_ACK
    assert to_itr == Endpoint(LISP1, ITR_PORT) and isinstance(reply, MapReply)


def test_site_without_registration_gets_ms_not_registered() -> None:
    ((to, referral),) = _ask(mapping_node(), "192.168.1.7")
    assert to == Endpoint(LISP1, RESOLVER_PORT) and isinstance(referral, MapReferral)
    (only,) = referral.records
    assert (only.action, only.ttl, only.incomplete, only.eid_mask_len) == (
        ReferralAction.MS_NOT_REGISTERED,
        1,
        True,
        24,
    )


def test_eid_in_no_site_gets_a_delegation_hole() -> None:
    ((_, referral),) = _ask(general_path_node(), "172.16.0.1")
    assert isinstance(referral, MapReferral)
    (only,) = referral.records
    assert (only.action, only.ttl, only.authoritative) == (
        ReferralAction.DELEGATION_HOLE,
        15,
        True,
    )
    assert (str(only.eid), only.eid_mask_len) == ("128.0.0.0", 2)


def test_a_request_without_the_ddt_bit_still_gets_a_map_reply() -> None:
    actions = deliver(mapping_node(), ecm_request("172.16.0.1"), 1.0)
    assert [type(decode_control(s.payload)) for s in sends(actions)] == [MapReply]
