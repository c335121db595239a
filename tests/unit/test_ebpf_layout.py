"""The Python mirrors of io/ebpf/lisp_maps.h match the C layout, and the map contents."""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
import sys
from ipaddress import IPv4Address, IPv6Address, ip_network

import pytest

from lispstack.config import parse_config
from lispstack.core.encapsulation import RlocChoice
from lispstack.core.forwarding import Step
from lispstack.io import ebpf_layout as layout

PXTR = """[node]
name = "pxtr"
roles = ["pitr", "petr"]
[pitr]
eid-prefixes = ["192.168.0.0/16"]
[[map-resolvers]]
address = "10.0.3.254"
"""


def _btf_structs() -> dict[str, dict[str, object]]:
    if shutil.which("bpftool") is None or not layout.OBJECT.exists():
        pytest.skip("bpftool or the compiled object missing (scripts/setup.sh builds it)")
    dump = subprocess.run(
        ["bpftool", "btf", "dump", "file", str(layout.OBJECT), "-j"],
        capture_output=True,
        check=True,
        text=True,
    )
    types = json.loads(dump.stdout)["types"]
    return {t["name"]: t for t in types if t["kind"] == "STRUCT" and t.get("name")}


@pytest.mark.parametrize("name", sorted(layout.STRUCTS))
def test_ctypes_layout_equals_the_btf_of_the_compiled_object(name: str) -> None:
    struct = _btf_structs()[name]
    mirror = layout.STRUCTS[name]
    assert ctypes.sizeof(mirror) == struct["size"]
    members = struct["members"]
    assert isinstance(members, list)
    assert [m["name"] for m in members] == [f[0] for f in mirror._fields_]
    for member in members:
        assert getattr(mirror, member["name"]).offset * 8 == member["bits_offset"], member


def test_lpm_key_puts_iid_and_version_before_the_address() -> None:
    key = layout.lpm_key(100, 4, int(IPv4Address("10.2.0.0")), 16)
    assert key[:4] == (64 + 16).to_bytes(4, "little")
    assert key[4:8] == (100).to_bytes(4, "big")
    assert key[8:12] == (4).to_bytes(4, "big")
    assert key[12:16] == bytes([10, 2, 0, 0]) and key[16:] == bytes(12)
    v6 = layout.lpm_key(0, 6, int(IPv6Address("2001:db8::")), 32)
    assert v6[12:28] == IPv6Address("2001:db8::").packed


def test_map_cache_value_carries_each_rloc_in_record_order() -> None:
    rlocs = (
        RlocChoice(0, IPv4Address("192.0.2.1"), 1, 50),
        RlocChoice(1, IPv6Address("2001:db8::1"), 2, 0, reachable=False),
    )
    value = layout.MapCacheValue.from_buffer_copy(
        layout.map_cache_value(Step.ENCAPSULATE, rlocs, 0b01)
    )
    assert (value.action, value.count, value.lsb) == (layout.ACTION_ENCAP, 2, 1)
    first, second = value.rlocs[0], value.rlocs[1]
    assert bytes(first.addr[:4]) == bytes([192, 0, 2, 1]) and first.version == 4
    assert (first.priority, first.weight, first.reachable) == (1, 50, 1)
    assert bytes(second.addr) == IPv6Address("2001:db8::1").packed
    assert (second.version, second.priority, second.reachable) == (6, 2, 0)


@pytest.mark.parametrize(
    ("step", "action"),
    [
        (Step.DROP, layout.ACTION_DROP),
        (Step.MAP_REQUEST, layout.ACTION_PUNT),
        (Step.NATIVE, layout.ACTION_PUNT),
    ],
)
def test_steps_that_are_not_encapsulation(step: Step, action: int) -> None:
    value = layout.MapCacheValue.from_buffer_copy(layout.map_cache_value(step, (), 0))
    assert (value.action, value.count) == (action, 0)


def test_to_petr_carries_the_petrs_and_says_so() -> None:
    petrs = (RlocChoice(0, IPv4Address("192.0.2.7"), 1, 100),)
    value = layout.MapCacheValue.from_buffer_copy(layout.map_cache_value(Step.TO_PETR, petrs, 1))
    assert (value.action, value.count, bytes(value.rlocs[0].addr[:4])) == (
        layout.ACTION_PETR,
        1,
        bytes([192, 0, 2, 7]),
    )
    assert {layout.ACTION_ENCAP, layout.ACTION_PETR} == layout.ENCAPSULATING


def test_an_encapsulating_value_gets_its_used_slot() -> None:
    value = layout.map_cache_value(Step.ENCAPSULATE, (RlocChoice(0, IPv4Address(1), 1, 1),), 1)
    assert layout.MapCacheValue.from_buffer_copy(value).slot == layout.NO_SLOT
    slotted = layout.MapCacheValue.from_buffer_copy(layout.with_slot(value, 70000))
    assert (slotted.slot, slotted.count, bytes(slotted.rlocs[0].addr[:4])) == (
        70000,
        1,
        b"\0\0\0\1",
    )
    assert layout.used_words(100_000) == 12_500 and layout.used_words(9) == 2


def test_more_rlocs_than_the_program_holds_go_to_the_slow_path() -> None:
    many = tuple(RlocChoice(i, IPv4Address(i + 1), 1, 1) for i in range(layout.MAX_RLOCS + 1))
    value = layout.MapCacheValue.from_buffer_copy(layout.map_cache_value(Step.ENCAPSULATE, many, 0))
    assert value.action == layout.ACTION_PUNT


def test_local_eids_inherit_the_flags_of_the_prefixes_holding_them() -> None:
    entries = layout.local_eid_entries(
        [
            (0, ip_network("0.0.0.0/0"), layout.EID_DELIVER),
            (0, ip_network("10.1.0.0/16"), layout.EID_SOURCE),
            (7, ip_network("10.1.0.0/16"), layout.EID_SOURCE),
        ],
        {0: 5, 7: 9},
    )
    inside = layout.EidValue.from_buffer_copy(
        entries[layout.lpm_key(0, 4, int(IPv4Address("10.1.0.0")), 16)]
    )
    assert (inside.flags, inside.ifindex) == (layout.EID_SOURCE | layout.EID_DELIVER, 5)
    other = layout.EidValue.from_buffer_copy(
        entries[layout.lpm_key(7, 4, int(IPv4Address("10.1.0.0")), 16)]
    )
    assert (other.flags, other.ifindex) == (layout.EID_SOURCE, 9)


def test_local_rlocs_are_the_rlocs_of_each_version_held_here() -> None:
    rlocs = (
        IPv4Address("192.0.2.1"),
        IPv6Address("2001:db8::1"),
        IPv4Address("203.0.113.1"),
        IPv4Address("198.51.100.9"),  # another xTR's, in the same database mapping
    )
    held = {"192.0.2.1", "203.0.113.1", "2001:db8::1", "127.0.0.1"}
    entries = layout.local_rloc_entries(rlocs, held)
    decap = (layout.RLOC_DECAP).to_bytes(4, sys.byteorder)
    assert entries == {b"\xc0\x00\x02\x01": decap, b"\xcb\x00\x71\x01": decap}
    assert layout.local_rloc_entries(rlocs, held, 6) == {IPv6Address("2001:db8::1").packed: decap}


def test_a_petr_takes_its_listen_addresses_or_every_address_held() -> None:
    held = {"192.0.2.1", "10.0.3.3", "2001:db8::1"}
    rloc = (IPv4Address("192.0.2.1"),)
    both, petr = (
        flag.to_bytes(4, sys.byteorder)
        for flag in (layout.RLOC_DECAP | layout.RLOC_PETR, layout.RLOC_PETR)
    )
    every = layout.local_rloc_entries(rloc, held, petr=())
    assert every == {b"\xc0\x00\x02\x01": both, b"\x0a\x00\x03\x03": petr}
    listen = (IPv4Address("10.0.3.3"), IPv4Address("10.9.9.9"))  # the second not held here
    assert layout.local_rloc_entries((), held, petr=listen) == {b"\x0a\x00\x03\x03": petr}


def test_petr_addresses_and_attracted_prefixes_follow_the_roles() -> None:
    pxtr = parse_config(PXTR, "pxtr.toml")
    assert layout.petr_addresses(pxtr) == ()
    assert layout.local_prefixes(pxtr) == [(0, ip_network("192.168.0.0/16"), layout.EID_ATTRACTED)]
    listening = parse_config(PXTR.replace("[pitr]", "listen = ['10.0.3.3']\n[pitr]"), "p.toml")
    assert layout.petr_addresses(listening) == (IPv4Address("10.0.3.3"),)
    itr = parse_config(PXTR.replace('"pitr", "petr"', '"pitr"'), "pitr.toml")
    assert layout.petr_addresses(itr) is None


def test_iid_totals_sum_the_cpus() -> None:
    slots = [layout.IidCounters(3, 1), layout.IidCounters(4, 0)]
    assert layout.iid_totals(b"".join(bytes(s) for s in slots)) == (7, 1)
    assert layout.iid_totals(b"") == (0, 0)


def test_config_and_per_cpu_counters() -> None:
    config = layout.Config.from_buffer_copy(
        layout.config_value({4: IPv4Address("192.0.2.1"), 6: IPv6Address("::1")}, True, 1400)
    )
    assert (bytes(config.rloc4), config.families, config.redirect) == (b"\xc0\x00\x02\x01", 3, 1)
    assert config.max_inner4 == 1400 - 36
    assert (bytes(config.rloc6), config.max_inner6) == (IPv6Address("::1").packed, 1400 - 56)
    per_cpu = (3).to_bytes(8, "little") + (4).to_bytes(8, "little")
    assert layout.counter_total(per_cpu) == 7


def test_the_kernel_carries_encapsulation_of_either_family() -> None:
    for destination, rloc in (("10.1.0.1", "192.0.2.1"), ("fd00::1", "192.0.2.1"),
                              ("10.1.0.1", "2001:db8::1"), ("fd00::1", "2001:db8::1")):  # fmt: skip
        decision = {"verdict": "encapsulate", "destination": destination, "rloc": rloc}
        assert layout.plane(decision) == "ebpf"
    assert (
        layout.plane({"verdict": "drop", "destination": "fd00::1", "prefix": "fd00::/8"}) == "ebpf"
    )
    assert layout.plane({"verdict": "map-request", "destination": "fd00::1"}) == "tun"
