"""The DDT node (RFC 8111): one Map-Referral per DDT Map-Request, every action to the byte."""

from __future__ import annotations

import random
import re
from ipaddress import IPv4Address

import pytest

from helpers.mapping_messages import LISP1, deliver, ecm_request, sends
from helpers.tshark import Probe, check_payloads, tshark_binary
from lispstack.config import ConfigError, parse_config
from lispstack.core.build import build_node
from lispstack.core.events import Endpoint
from lispstack.core.node import Node
from lispstack.wire import InstanceId, MapReferral, decode_control
from lispstack.wire.map_referral import ReferralAction

ROOT = """
[node]
name = "root"
roles = ["ddt-node"]

[[ddt-prefixes]]
eid-prefix = "10.0.0.0/8"

[[ddt-prefixes]]
eid-prefix = "[7]10.0.0.0/8"

[[delegations]]
eid-prefix = "10.1.0.0/16"
children = [
    { address = "192.0.2.1", priority = 1, weight = 50 },
    { address = "192.0.2.2", priority = 2, weight = 50 },
]

[[delegations]]
eid-prefix = "10.2.0.0/16"
kind = "map-server"
ttl = 60
children = [{ address = "192.0.2.9" }]

[[delegations]]
eid-prefix = "10.128.0.0/9"
children = [{ address = "192.0.2.3" }]
"""
DDT_NODE = Endpoint(IPv4Address("192.0.2.100"), 4342)
RESOLVER_PORT = 53000
NONCE = 0x0102030405060708


def root() -> Node:
    return build_node(parse_config(ROOT, "root.toml"), random.Random(1))


def ask(node: Node, eid: str, *, iid: int = 0) -> bytes:
    (send,) = sends(
        deliver(
            node,
            ecm_request(eid, nonce=NONCE, iid=iid, sport=50000, ddt=True),
            0.0,
            port=RESOLVER_PORT,
            local=DDT_NODE,
        )
    )
    assert send.destination == Endpoint(LISP1, RESOLVER_PORT)  # the ECM's outer source
    return send.payload


# One golden Map-Referral per action a DDT node sends: header, nonce, then the record
# (TTL, referral count, mask length, ACT|A|I, map version, EID) and its ref-locators.
GOLDEN = {
    "10.1.2.3": (
        "60000001 0102030405060708"
        " 000005a0 02 10 1000 0000 0001 0a010000"  # node-referral, 24 h, A
        " 01 32 ff 00 0001 0001 c0000201"
        " 02 32 ff 00 0001 0001 c0000202"
    ),
    "10.2.9.9": (
        "60000001 0102030405060708"
        " 0000003c 01 10 3000 0000 0001 0a020000"  # ms-referral, 60 min, A
        " 01 64 ff 00 0001 0001 c0000209"
    ),
    "10.64.0.1": (
        "60000001 0102030405060708"
        " 0000000f 00 0a 9000 0000 0001 0a400000"  # delegation-hole 10.64.0.0/10, 15 min, A
    ),
    "11.0.0.1": (
        "60000001 0102030405060708"
        " 00000000 00 20 a800 0000 0001 0b000001"  # not-authoritative, TTL 0, I
    ),
}


@pytest.mark.parametrize("eid", GOLDEN)
def test_every_action_to_the_byte(eid: str) -> None:
    assert ask(root(), eid).hex() == GOLDEN[eid].replace(" ", "")


def test_actions_prefixes_and_counters() -> None:
    node = root()
    seen = {}
    for eid in ("10.1.2.3", "10.2.9.9", "10.64.0.1", "10.0.0.1", "11.0.0.1"):
        referral = decode_control(ask(node, eid))
        assert isinstance(referral, MapReferral) and referral.nonce == NONCE
        (record,) = referral.records
        seen[eid] = (record.action, f"{record.eid}/{record.eid_mask_len}")
    assert seen == {
        "10.1.2.3": (ReferralAction.NODE_REFERRAL, "10.1.0.0/16"),
        "10.2.9.9": (ReferralAction.MS_REFERRAL, "10.2.0.0/16"),
        # The least-specific prefixes overlapping no delegation.
        "10.64.0.1": (ReferralAction.DELEGATION_HOLE, "10.64.0.0/10"),
        "10.0.0.1": (ReferralAction.DELEGATION_HOLE, "10.0.0.0/16"),
        "11.0.0.1": (ReferralAction.NOT_AUTHORITATIVE, "11.0.0.1/32"),
    }
    assert node.counters.get("referral.delegation-hole") == 2
    assert node.counters.get("out.map-referral") == 5


def test_a_hole_is_never_wider_than_the_authoritative_prefix() -> None:
    # [7]10.0.0.0/8 has no delegation at all: the finder alone would answer /0.
    (record,) = _decoded(ask(root(), "10.9.9.9", iid=7)).records
    assert record.action is ReferralAction.DELEGATION_HOLE
    assert (record.eid, record.eid_mask_len) == (InstanceId(7, IPv4Address("10.0.0.0")), 8)


def _decoded(payload: bytes) -> MapReferral:
    message = decode_control(payload)
    assert isinstance(message, MapReferral)
    return message


def test_a_request_without_the_ddt_bit_is_a_counted_drop() -> None:
    node = root()
    actions = deliver(node, ecm_request("10.1.2.3"), 0.0, local=DDT_NODE)
    assert sends(actions) == []
    assert node.counters.get("drop.not-ddt-request") == 1


@pytest.mark.skipif(tshark_binary() is None, reason="tshark not installed")
def test_wireshark_reads_every_action_as_we_do() -> None:
    frames = check_payloads([Probe(bytes.fromhex(g.replace(" ", ""))) for g in GOLDEN.values()])
    expected = [
        ("0", "1440", "1", "0", "2"),
        ("1", "60", "1", "0", "1"),
        ("4", "15", "1", "0", "0"),
        ("5", "0", "0", "1", "0"),
    ]
    for frame, (act, ttl, auth, incomplete, count) in zip(frames, expected, strict=True):
        assert frame.clean, frame.problems()
        assert frame.fields["lisp.mapping.act"] == [act]
        assert frame.fields["lisp.mapping.ttl"] == [ttl]
        assert frame.fields["lisp.mapping.auth"] == [auth]
        assert frame.fields["lisp.referral.incomplete"] == [incomplete]
        assert frame.fields["lisp.mapping.loccnt"] == [count]


@pytest.mark.parametrize(
    ("tables", "error"),
    [
        ("", "role ddt-node needs at least one [[ddt-prefixes]]"),
        (
            '[[ddt-prefixes]]\neid-prefix = "10.0.0.0/8"\n'
            '[[delegations]]\neid-prefix = "11.0.0.0/16"\nchildren = [{ address = "192.0.2.1" }]',
            "delegations[0].eid-prefix: 11.0.0.0/16 lies inside none of [[ddt-prefixes]]",
        ),
        (
            '[[ddt-prefixes]]\neid-prefix = "10.0.0.0/8"\n'
            '[[delegations]]\neid-prefix = "10.1.2.0/24"\nchildren = [{ address = "192.0.2.1" }]\n'
            '[[delegations]]\neid-prefix = "10.1.0.0/16"\nchildren = [{ address = "192.0.2.2" }]',
            "delegations[0].eid-prefix: 10.1.2.0/24 lies inside delegation 10.1.0.0/16",
        ),
        (
            '[[ddt-prefixes]]\neid-prefix = "10.0.0.0/8"\n'
            '[[delegations]]\neid-prefix = "10.1.0.0/16"\nkind = "dns"\n'
            'children = [{ address = "192.0.2.1" }]',
            "unknown delegation kind 'dns' (expected node or map-server)",
        ),
    ],
)
def test_config_errors(tables: str, error: str) -> None:
    text = f'[node]\nname = "d"\nroles = ["ddt-node"]\n{tables}\n'
    with pytest.raises(ConfigError, match=re.escape(error)):
        parse_config(text, "d.toml")


def test_a_ddt_map_resolver_runs_as_one_worker() -> None:
    text = '[node]\nname = "mr"\nroles = ["map-resolver"]\nworkers = 2\n'
    text += '[[ddt-roots]]\naddress = "192.0.2.1"\n'
    with pytest.raises(ConfigError, match="runs as one worker"):
        parse_config(text, "mr.toml")


def test_ttl_authoritative_and_incomplete_follow_the_rfc_table() -> None:
    # RFC 8111 section 6.3 (Map-Referral "Incomplete" table): NODE-REFERRAL and
    # MS-REFERRAL not incomplete, with the delegation's TTL (1440 by default);
    # DELEGATION-HOLE not incomplete, no referral set, 15; NOT-AUTHORITATIVE incomplete,
    # no referral set, 0 and not authoritative (section 7.1: the EID-prefix as asked).
    node = root()
    flags = {}
    for eid in ("10.1.2.3", "10.2.9.9", "10.64.0.1", "11.0.0.1"):
        (record,) = _decoded(ask(node, eid)).records
        flags[record.action] = (
            record.ttl,
            record.authoritative,
            record.incomplete,
            bool(record.referrals),
        )
    assert flags == {
        ReferralAction.NODE_REFERRAL: (1440, True, False, True),
        ReferralAction.MS_REFERRAL: (60, True, False, True),  # its ttl = 60
        ReferralAction.DELEGATION_HOLE: (15, True, False, False),
        ReferralAction.NOT_AUTHORITATIVE: (0, False, True, False),
    }
