"""`show forwarding` (Itr.explain) says what handle_tun does, for every example configuration.

For each configuration with an ITR or PITR, a map-cache with one entry of each
kind, and packets from inside and outside the EID space to each of them (and to
a destination with no entry): the verdict, RLOC and Map-Resolver that explain
reports must be what handle_tun then does with the same packet.
"""

from __future__ import annotations

import random
from ipaddress import IPv4Address, ip_address
from pathlib import Path

import pytest

from helpers.xtr_fixtures import icmp
from lispstack.config import load_config, parse_config
from lispstack.config.model import NodeConfig, NodeRole
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.events import Action, ForwardNatively, SendDatagram
from lispstack.core.itr import Itr
from lispstack.core.xtr import build_xtr_roles
from lispstack.wire.records import Locator, MappingRecord, MapReplyAction

EXAMPLES = Path(__file__).parents[2] / "examples"
PETR_ONLY = """
[node]
name = "petr-only"
roles = ["itr"]
[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{ address = "10.0.1.1" }]
[[petrs]]
address = "10.0.3.3"
"""
PETR_AND_RESOLVER = PETR_ONLY + '[[map-resolvers]]\naddress = "10.0.1.254"\n'


def _configs() -> list[tuple[str, NodeConfig]]:
    configs = [(path.name, load_config(path)) for path in sorted(EXAMPLES.glob("*.toml"))]
    configs.append(("petr-only", parse_config(PETR_ONLY, "petr-only.toml")))
    configs.append(("petr-and-resolver", parse_config(PETR_AND_RESOLVER, "petr.toml")))
    return configs


def _record(eid: str, mask: int, *rlocs: Locator, action: MapReplyAction) -> MappingRecord:
    return MappingRecord(eid=ip_address(eid), eid_mask_len=mask, action=action, locators=rlocs)


CACHE = (
    _record(
        "192.168.2.0", 24, Locator(address=IPv4Address("10.0.2.2")), action=MapReplyAction.NO_ACTION
    ),
    _record(
        "192.168.1.0", 24, Locator(address=IPv4Address("10.0.1.1")), action=MapReplyAction.NO_ACTION
    ),
    _record("0.0.0.0", 1, action=MapReplyAction.NATIVELY_FORWARD),
    _record("172.16.0.0", 12, action=MapReplyAction.SEND_MAP_REQUEST),
    _record("203.0.113.0", 24, action=MapReplyAction.DROP),
    _record(
        "198.51.100.0",
        24,
        Locator(address=IPv4Address("10.0.9.9"), priority=255),
        action=MapReplyAction.NO_ACTION,
    ),
)
DESTINATIONS = (
    "192.168.2.1",
    "192.168.1.7",
    "4.2.2.2",
    "172.16.0.1",
    "203.0.113.1",
    "198.51.100.1",
)
SOURCES = ("192.168.1.1", "192.168.2.1", "4.2.2.2")


def _itr(config: NodeConfig, *, cached: bool) -> Itr:
    counters = Counters()
    roles = build_xtr_roles(
        config, counters, DropRecorder(counters), random.Random(1), [IPv4Address("10.0.3.3")]
    )
    itr = next(role for role in roles if isinstance(role, Itr))
    if cached:
        for record in CACHE:
            itr.cache.insert(record, 0.0, "test")
    return itr


def _done(actions: list[Action]) -> tuple[str, str | None]:
    """What handle_tun did: (verdict, RLOC or Map-Resolver it sent to)."""
    for action in actions:
        if isinstance(action, SendDatagram):
            address = str(action.destination.address)
            if action.destination.port == 4342:
                return "map-request", address
            return "encapsulate", address
        if isinstance(action, ForwardNatively):
            return "native", None
    return "drop", None


CONFIGS = {
    name: config
    for name, config in _configs()
    if config.has_role(NodeRole.ITR) or config.has_role(NodeRole.PITR)
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("cache", ["empty", "cached"])
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("destination", DESTINATIONS)
def test_explain_says_what_handle_tun_does(
    name: str, cache: str, source: str, destination: str
) -> None:
    config, cached = CONFIGS[name], cache == "cached"
    said = _itr(config, cached=cached).explain(f"{destination} {source}", 1.0)
    done = _done(_itr(config, cached=cached).handle_tun(icmp(source, destination), 1.0))
    told = (said.verdict.value, said.rloc or said.map_resolver)
    assert told == done, said.reason


def test_every_example_with_an_itr_is_covered() -> None:
    assert sorted(CONFIGS) == [
        "lisp1.toml",
        "lisp2.toml",
        "petr-and-resolver",
        "petr-only",
        "pxtr.toml",
    ]
