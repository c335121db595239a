"""LISP-DDT with real processes over loopback: `lispstack rig` walks root -> child -> Map-Server."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from nodes import LISPSTACK, RunningNode, free_loopback, start_node, wait_for

from helpers.mapping_messages import record, register

ROOT = free_loopback(11)
CHILD = free_loopback(12)
MS = free_loopback(13)
DEAD_MS = free_loopback(14)
ETR = free_loopback(15)
MR = free_loopback(16)


@pytest.fixture
def ddt(tmp_path: Path) -> Iterator[list[RunningNode]]:
    bodies = {
        "root": f"""roles = ["ddt-node"]
listen = ["{ROOT}"]
[[ddt-prefixes]]
eid-prefix = "192.168.0.0/16"
[[delegations]]
eid-prefix = "192.168.0.0/20"
children = [{{ address = "{CHILD}" }}]
""",
        "child": f"""roles = ["ddt-node"]
listen = ["{CHILD}"]
[[ddt-prefixes]]
eid-prefix = "192.168.0.0/20"
[[delegations]]
eid-prefix = "192.168.1.0/24"
kind = "map-server"
children = [{{ address = "{DEAD_MS}", priority = 1 }}, {{ address = "{MS}", priority = 2 }}]
""",
        "ms": f"""roles = ["map-server", "map-resolver"]
listen = ["{MS}"]
[[sites]]
name = "site-a"
auth-key = "site-a-secret"
eid-prefixes = ["192.168.1.0/24"]
""",
        "mr": f"""roles = ["map-resolver"]
listen = ["{MR}"]
[[ddt-roots]]
address = "{ROOT}"
""",
    }
    nodes: list[RunningNode] = []
    try:
        for name, body in bodies.items():
            nodes.append(start_node(tmp_path, name, body))
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(tmp_path, ignore_errors=True)


def rig(eid: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [LISPSTACK, "rig", eid, "--ddt-node", ROOT, "--json", "--timeout", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.returncode, json.loads(result.stdout)


def _chain(walk: dict[str, Any]) -> list[tuple[str, str]]:
    return [(hop["node"], hop["action"]) for hop in walk["hops"]]


def test_rig_walks_to_the_map_server_past_a_dead_one(ddt: list[RunningNode]) -> None:
    code, walk = rig("192.168.1.7")
    assert code == 0, walk
    assert _chain(walk) == [
        (ROOT, "node-referral"),
        (CHILD, "ms-referral"),
        (DEAD_MS, "no-answer"),
        (MS, "ms-not-registered"),
    ]
    assert walk["hops"][1]["referrals"][1] == {"address": MS, "priority": 2, "weight": 100}
    assert walk["hops"][0]["eid_prefix"] == "192.168.0.0/20"


def _register(ms: RunningNode, *, proxy: bool = False) -> None:
    rec = record("192.168.1.0", 24, IPv4Address(ETR))
    registration = register((rec,), b"site-a-secret", proxy=proxy)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as etr:
        etr.bind((ETR, 0))
        etr.sendto(registration, (MS, 4342))
    assert wait_for(lambda: ms.show("registrations"))


def lig(eid: str) -> dict[str, Any]:
    # The dead Map-Server comes first in the referral set: the resolver waits 2 s for it.
    command = [LISPSTACK, "lig", eid, "--map-resolver", MR, "--json", "--timeout", "6"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_the_ddt_map_resolver_walks_for_an_itr(ddt: list[RunningNode]) -> None:
    (record_json,) = lig("192.168.1.7")["message"]["records"]
    assert (record_json["eid"], record_json["ttl"], record_json["rlocs"]) == (
        "192.168.1.0/24",
        1,
        [],
    )  # ms-not-registered, as a negative Map-Reply
    cached = {(r["eid"], r["action"]) for r in ddt[3].show("referral-cache")}
    assert cached == {
        ("192.168.0.0/20", "node-referral"),
        ("192.168.1.0/24", "ms-referral"),
    }  # not the ms-not-registered: its I bit is set (RFC 8111 section 6.3: not cached)


def test_the_ddt_map_resolver_gets_the_proxy_reply_of_a_registered_site(
    ddt: list[RunningNode],
) -> None:
    _register(ddt[2], proxy=True)
    (record_json,) = lig("192.168.1.9")["message"]["records"]
    assert record_json["rlocs"][0]["address"] == ETR  # proxy-replied by the Map-Server
    assert ddt[3].show("statistics")["ddt.ms-ack"] == 1
    # Asked again: the Map-Server's daemon answers from the bytes it kept (MS-ACK and
    # proxy reply, io/daemon.py's shortcut), which the resolver takes as before.
    (again,) = lig("192.168.1.9")["message"]["records"]
    assert again == record_json
    assert ddt[3].show("statistics")["ddt.ms-ack"] == 2


def test_rig_sees_ms_ack_once_the_site_registered(ddt: list[RunningNode]) -> None:
    _register(ddt[2])
    code, walk = rig("192.168.1.7")
    assert code == 0 and walk["outcome"] == "ms-ack", walk
    assert walk["hops"][-1]["eid_prefix"] == "192.168.1.0/24"


@pytest.mark.parametrize(
    ("eid", "chain", "code"),
    [
        ("192.168.200.1", [(ROOT, "delegation-hole")], 0),
        ("192.168.2.1", [(ROOT, "node-referral"), (CHILD, "delegation-hole")], 0),
        ("10.0.0.1", [(ROOT, "not-authoritative")], 1),
    ],
)
def test_rig_ends_at_holes_and_refusals(
    ddt: list[RunningNode], eid: str, chain: list[tuple[str, str]], code: int
) -> None:
    got_code, walk = rig(eid)
    assert (got_code, _chain(walk)) == (code, chain)
