"""A live reload of the DDT roles (Node.reconfigure), and a DDT node's `show delegations`."""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv4Network

from helpers.mapping_messages import deliver, ecm_request, sends
from lispstack.cli.tables import render
from lispstack.config import parse_config
from lispstack.config.model import DelegationChild
from lispstack.config.reload_changes import describe_changes, fixed_change
from lispstack.core.build import build_node
from lispstack.core.ddt_resolver import DdtResolver
from lispstack.core.node import Node
from lispstack.core.referrals import ref_locators, referral_record
from lispstack.mapping.prefix import EidPrefix
from lispstack.wire import MapReferral, decode_control
from lispstack.wire.map_referral import ReferralAction

NODE = """
[node]
name = "root"
roles = ["ddt-node"]

[[ddt-prefixes]]
eid-prefix = "10.0.0.0/8"

[[delegations]]
eid-prefix = "10.1.0.0/16"
children = [{ address = "192.0.2.1", priority = 1, weight = 50 }]
"""
MOVED = (
    NODE.replace("10.1.0.0/16", "10.2.0.0/16")
    + """
[[delegations]]
eid-prefix = "10.3.0.0/16"
kind = "map-server"
ttl = 30
children = [{ address = "192.0.2.9" }]
"""
)
RESOLVER = """
[node]
name = "mr"
roles = ["map-resolver"]

[[ddt-roots]]
address = "192.0.2.100"
"""


def _node(text: str) -> Node:
    return build_node(parse_config(text, "node.toml"), random.Random(1))


def _action(node: Node, eid: str) -> tuple[ReferralAction, str]:
    (send,) = sends(deliver(node, ecm_request(eid, ddt=True), 1.0, port=53000))
    referral = decode_control(send.payload)
    assert isinstance(referral, MapReferral)
    (record,) = referral.records
    return record.action, f"{record.eid}/{record.eid_mask_len}"


def test_a_ddt_node_answers_from_its_new_delegations_after_a_reload() -> None:
    node = _node(NODE)
    assert _action(node, "10.1.0.1") == (ReferralAction.NODE_REFERRAL, "10.1.0.0/16")
    node.reconfigure(parse_config(MOVED, "node.toml"), 2.0)
    assert _action(node, "10.1.0.1") == (ReferralAction.DELEGATION_HOLE, "10.0.0.0/15")
    assert _action(node, "10.2.0.1") == (ReferralAction.NODE_REFERRAL, "10.2.0.0/16")
    assert _action(node, "10.3.0.1") == (ReferralAction.MS_REFERRAL, "10.3.0.0/16")
    before, after = parse_config(NODE, "n.toml"), parse_config(MOVED, "n.toml")
    assert fixed_change(before, after) is None
    assert describe_changes(before, after) == [
        "delegation 10.2.0.0/16 added",
        "delegation 10.3.0.0/16 added",
        "delegation 10.1.0.0/16 removed",
    ]


def test_show_delegations_lists_authority_then_delegations() -> None:
    node = _node(MOVED)
    shown = node.show("delegations", None, 0.0)
    assert [(r["eid"], r["action"], r.get("ttl")) for r in shown] == [
        ("10.0.0.0/8", "authoritative", None),
        ("10.2.0.0/16", "node-referral", 1440),
        ("10.3.0.0/16", "ms-referral", 30),
    ]
    assert shown[1]["referrals"][0]["address"] == "192.0.2.1"
    text = render("delegations", shown, None)
    assert "10.3.0.0/16" in text and "ms-referral" in text and "192.0.2.9 1/100" in text


def test_new_ddt_roots_flush_the_referral_cache_and_the_same_roots_keep_it() -> None:
    node = _node(RESOLVER)
    resolver = node.roles[0]
    assert isinstance(resolver, DdtResolver)
    # A learnt referral (the walk's first answer, from the root).
    (to_root,) = sends(deliver(node, ecm_request("10.1.0.1", nonce=1), 1.0, port=53000))
    learnt = referral_record(
        ReferralAction.NODE_REFERRAL,
        EidPrefix(0, IPv4Network("10.1.0.0/16")),
        1440,
        ref_locators([DelegationChild(address=IPv4Address("192.0.2.1"))]),
    )
    referral = MapReferral(nonce=1, records=(learnt,)).encode()
    deliver(node, referral, 1.0, source=to_root.destination.address)
    assert len(resolver.cache) == 1
    node.reconfigure(parse_config(RESOLVER, "mr.toml"), 2.0)
    assert len(resolver.cache) == 1
    moved = RESOLVER.replace("192.0.2.100", "192.0.2.200")
    node.reconfigure(parse_config(moved, "mr.toml"), 3.0)
    assert len(resolver.cache) == 0 and resolver.roots == [IPv4Address("192.0.2.200")]
    assert node.counters.get("ddt.cache-flushed") == 1
    (to_new_root,) = sends(deliver(node, ecm_request("10.1.0.1", nonce=2), 4.0, port=53000))
    assert to_new_root.destination.address == IPv4Address("192.0.2.200")


def test_adding_or_removing_every_ddt_root_is_refused() -> None:
    plain = RESOLVER.split("[[ddt-roots]]")[0]
    refusal = fixed_change(parse_config(RESOLVER, "mr.toml"), parse_config(plain, "mr.toml"))
    assert refusal is not None and refusal.startswith("ddt-roots")
