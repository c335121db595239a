"""What a kernel data plane needs from the ITR's map-cache (sans-I/O): which entries
changed, the step and RLOCs of each, and the kernel's hits reported back."""

from __future__ import annotations

import random
from dataclasses import replace
from ipaddress import IPv4Address, ip_address

from helpers.xtr_fixtures import build_xtr, lisp1_config
from lispstack.config import parse_config
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.events import SendDatagram
from lispstack.core.forwarding import Step
from lispstack.core.itr import Itr
from lispstack.core.rloc_probe import ReachabilityChange
from lispstack.core.xtr import build_xtr_roles
from lispstack.core.xtr_cache import XtrCache
from lispstack.io import ebpf_layout as layout
from lispstack.wire.records import Locator, MappingRecord, MapReplyAction

DYNAMIC = """
[node]
name = "mobile"
roles = ["itr", "etr"]
[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{ address = "10.0.1.1" }]
dynamic = true
[[database-mappings]]
eid-prefix = "192.168.9.0/24"
rlocs = [{ address = "10.0.1.1" }]
[[map-servers]]
address = "10.0.1.254"
auth-key = "k"
[[map-resolvers]]
address = "10.0.1.254"
"""

PETR = """
[node]
name = "petr-user"
roles = ["itr"]
[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{ address = "10.0.1.1" }]
[[petrs]]
address = "10.0.3.3"
[itr]
use-petrs = true
"""


def record(
    prefix: str, *rlocs: str, ttl: int = 1, action: MapReplyAction = MapReplyAction.NO_ACTION
) -> MappingRecord:
    network, length = prefix.split("/")
    return MappingRecord(
        eid=ip_address(network),
        eid_mask_len=int(length),
        ttl=ttl,
        action=action,
        locators=tuple(Locator(address=ip_address(r)) for r in rlocs),
    )


def key(prefix: str) -> tuple[int, int, int, int]:
    network, length = prefix.split("/")
    return (0, 4, int(IPv4Address(network)), int(length))


def test_nobody_follows_by_default_and_nothing_piles_up() -> None:
    cache = XtrCache()
    cache.insert(record("10.0.0.0/8", "192.0.2.1"), 0.0, "ms")
    assert cache.changed is None


def test_every_install_replacement_removal_and_expiry_is_recorded() -> None:
    cache = XtrCache(limit=2)
    cache.changed = set()
    cache.insert(record("10.0.0.0/8", "192.0.2.1"), 0.0, "ms")
    cache.insert(record("10.0.0.0/8", "192.0.2.2"), 1.0, "ms")
    assert cache.changed == {key("10.0.0.0/8")}
    cache.changed.clear()
    cache.insert(record("11.0.0.0/8", "192.0.2.1"), 1.0, "ms")
    cache.insert(record("12.0.0.0/8", "192.0.2.1"), 1.0, "ms")  # evicts 10/8 (LRU)
    assert cache.changed == {key("10.0.0.0/8"), key("11.0.0.0/8"), key("12.0.0.0/8")}
    cache.changed.clear()
    cache.insert(record("11.0.0.0/8", ttl=0), 2.0, "ms")  # TTL 0 removes it
    cache.expire(1.0 + 61.0)
    assert cache.changed == {key("11.0.0.0/8"), key("12.0.0.0/8")}
    assert len(cache) == 0


def test_step_for_gives_the_rlocs_an_encapsulation_uses() -> None:
    _, itr, _ = build_xtr(lisp1_config())
    itr.cache.changed = set()
    entry, _ = itr.cache.insert(record("192.168.2.0/24", "10.0.2.2"), 0.0, "ms")
    step, rlocs, lsb = itr.step_for(entry)
    assert (step, [str(r.address) for r in rlocs], lsb) == (Step.ENCAPSULATE, ["10.0.2.2"], 1)
    dropped, _ = itr.cache.insert(record("192.168.3.0/24", action=MapReplyAction.DROP), 0.0, "ms")
    assert itr.step_for(dropped)[0] is Step.DROP


def test_map_versioned_packets_are_left_to_the_python_itr() -> None:
    """Only handle_tun writes the V bit (RFC 9302): a kernel data plane and the
    one-call path leave it an entry with a map-version, and every entry of an ITR
    whose own mapping has one."""
    _, itr, _ = build_xtr(lisp1_config())
    plain, _ = itr.cache.insert(record("192.168.2.0/24", "10.0.2.2"), 0.0, "ms")
    versioned_record = replace(record("192.168.3.0/24", "10.0.3.3"), map_version=7)
    versioned, _ = itr.cache.insert(versioned_record, 0.0, "ms")
    assert not itr.carries_map_versions(plain)
    assert itr.carries_map_versions(versioned)
    assert layout.PUNT[0] == layout.ACTION_PUNT
    own = lisp1_config().database_mappings[0]
    _, versioned_itr, _ = build_xtr(
        replace(lisp1_config(), database_mappings=(replace(own, map_version=3),))
    )
    entry, _ = versioned_itr.cache.insert(record("192.168.2.0/24", "10.0.2.2"), 0.0, "ms")
    assert versioned_itr.carries_map_versions(entry)


def test_a_dynamic_prefix_is_not_given_to_the_programs() -> None:
    dynamic = parse_config(DYNAMIC, "mobile.toml")
    prefixes = layout.local_prefixes(dynamic)
    assert [(iid, str(network)) for iid, network, _ in prefixes] == [(0, "192.168.9.0/24")]
    assert prefixes[0][2] == layout.EID_SOURCE | layout.EID_DELIVER


def test_natively_forwarded_entries_go_to_the_petrs_when_they_take_them() -> None:
    counters = Counters()
    (itr,) = build_xtr_roles(
        parse_config(PETR, "petr-user.toml"), counters, DropRecorder(counters), random.Random(1)
    )
    assert isinstance(itr, Itr)
    native, _ = itr.cache.insert(
        record("0.0.0.0/1", action=MapReplyAction.NATIVELY_FORWARD), 0.0, "ms"
    )
    step, rlocs, lsb = itr.step_for(native)
    assert (step, [str(r.address) for r in rlocs], lsb) == (Step.TO_PETR, ["10.0.3.3"], 1)


def test_reachability_changes_are_recorded() -> None:
    _, itr, _ = build_xtr(lisp1_config())
    itr.cache.insert(record("192.168.2.0/24", "10.0.2.2", "10.0.2.3"), 0.0, "ms")
    itr.cache.changed = set()
    itr._reachability([ReachabilityChange(key("192.168.2.0/24"), ip_address("10.0.2.2"), False)])
    assert itr.cache.changed == {key("192.168.2.0/24")}
    entry = itr.cache.get(key("192.168.2.0/24"))
    assert entry is not None and [r.reachable for r in entry.rlocs] == [False, True]


def test_a_kernel_hit_marks_the_entry_used_and_refreshes_it_before_expiry() -> None:
    _, itr, counters = build_xtr(lisp1_config())
    itr.cache.insert(record("192.168.2.0/24", "10.0.2.2", ttl=10), 0.0, "ms")
    assert itr.used_in_kernel(key("192.168.2.0/24"), 10.0) == []  # far from expiry
    entry = itr.cache.get(key("192.168.2.0/24"))
    assert entry is not None and entry.last_used == 10.0
    actions = itr.used_in_kernel(key("192.168.2.0/24"), 600.0 - 30.0)  # inside the window
    requests = [a for a in actions if isinstance(a, SendDatagram)]
    assert len(requests) == 1 and str(requests[0].destination) == "10.0.1.254:4342"
    assert counters.get("out.map-request.refresh") == 1
    assert itr.used_in_kernel(key("10.9.0.0/16"), 1.0) == []  # not cached
