"""Failover in a real lab: lisp2 has two uplinks (RLOCs 10.0.2.2 priority 1, 10.0.3.2
priority 2). A path to 10.0.2.2 that dies beyond lisp2 (a blackhole route on the router):
lisp1's probes miss, traffic moves to the second RLOC; the path comes back, a probe is
answered, traffic returns. lisp2's own uplink that goes down: lisp2 notices (the watch of
its own RLOCs) and tells lisp1 (re-registration with the R bit clear, SMR)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.multihomed_lab import lab_exec, multihomed_lab, ping, run

pytestmark = pytest.mark.root


def _rloc_states() -> dict[str, str]:
    shown = run("lab", "show", "--name", "mhome", "lisp1", "map-cache", "192.168.2.1", "--json")
    (entry,) = json.loads(shown.stdout)
    return {r["address"]: r.get("probe", {}).get("state", "?") for r in entry["rlocs"]}


def _wait_for(states: dict[str, str], seconds: float) -> dict[str, str]:
    deadline = time.monotonic() + seconds
    while True:
        ping()  # keeps the mapping in use
        now = _rloc_states()
        if now == states or time.monotonic() > deadline:
            return now
        time.sleep(0.3)


@pytest.fixture(params=["tun", "ebpf"])
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The multihomed lab, its xTRs on each data-plane engine in turn."""
    with multihomed_lab(tmp_path, interval=1, misses=2, engine=request.param) as name:
        yield name


def _kernel_counts() -> tuple[int, int]:
    """lisp1's packets encapsulated, lisp2's decapsulated, by the eBPF programs."""
    counts = []
    for node, name in (("lisp1", "ebpf.encap.packets"), ("lisp2", "ebpf.decap.packets")):
        shown = run("lab", "show", "--name", "mhome", node, "statistics", "--json")
        counts.append(int(json.loads(shown.stdout).get(name, 0)))
    return counts[0], counts[1]


def test_missed_probes_move_traffic_to_the_second_rloc_and_back(
    lab: str, request: pytest.FixtureRequest
) -> None:
    kernel = request.node.callspec.params["lab"] == "ebpf"
    assert ping(2)
    up = {"10.0.2.2": "up", "10.0.3.2": "up"}
    assert _wait_for(up, 10) == up
    blackhole = ("ip", "route", "add", "blackhole", "10.0.2.2/32")
    assert lab_exec("mapserver", *blackhole).returncode == 0  # lisp2 cannot tell
    failed_over = {"10.0.2.2": "down", "10.0.3.2": "up"}
    assert _wait_for(failed_over, 10) == failed_over
    encapsulated, decapsulated = _kernel_counts()
    assert ping(3)  # through 10.0.3.2
    if kernel:  # the BPF map-cache took the reachability change: the kernel carries it,
        # and lisp2 decapsulates in the kernel on its second RLOC too
        now_encapsulated, now_decapsulated = _kernel_counts()
        assert now_encapsulated >= encapsulated + 3
        assert now_decapsulated >= decapsulated + 3
    lisp2: Any = _show("lisp2", "statistics")
    assert lisp2.get("local-rlocs.changed", 0) == 0  # the probes did it
    assert lab_exec("mapserver", "ip", "route", "del", "blackhole", "10.0.2.2/32").returncode == 0
    assert _wait_for(up, 10) == up
    assert ping(2)


@pytest.fixture(params=["tun", "ebpf"])
def unprobed_lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The multihomed lab with lisp1 probing at the default interval (60 s): a failover
    within the test is lisp2's own doing."""
    with multihomed_lab(tmp_path, interval=60, misses=3, engine=request.param) as name:
        yield name


def _show(node: str, *topic: str) -> object:
    shown = run("lab", "show", "--name", "mhome", node, *topic, "--json")
    return json.loads(shown.stdout)


def _registered() -> dict[str, bool]:
    """The Map-Server's registration of lisp2's prefix: each RLOC and its R bit."""
    registrations: Any = _show("mapserver", "registrations")
    entry = next(r for r in registrations if r["eid"] == "192.168.2.0/24")
    return {r["address"]: r["reachable"] for r in entry["rlocs"]}


def _until(wanted: dict[str, str], seconds: float = 10) -> dict[str, str]:
    deadline = time.monotonic() + seconds
    while (now := _rloc_states()) != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
    return now


def test_the_multihomed_xtr_notices_its_own_dead_uplink(
    unprobed_lab: str, request: pytest.FixtureRequest
) -> None:
    """lisp2's eth0 goes down: lisp2 itself re-registers 10.0.2.2 with the R bit clear and
    SMRs lisp1, whose traffic moves to 10.0.3.2 without a probe; its address removed and
    added again (after start) is seen too, and traffic comes back to it."""
    kernel = request.node.callspec.params["unprobed_lab"] == "ebpf"
    assert ping(2)
    up = {"10.0.2.2": "up", "10.0.3.2": "up"}
    assert _rloc_states() == up
    assert lab_exec("lisp2", "ip", "link", "set", "eth0", "down").returncode == 0
    moved = {"10.0.2.2": "down", "10.0.3.2": "up"}
    assert _until(moved) == moved
    assert _registered() == {"10.0.2.2": False, "10.0.3.2": True}
    lisp1: Any = _show("lisp1", "statistics")
    lisp2: Any = _show("lisp2", "statistics")
    assert lisp2.get("local-rlocs.changed", 0) >= 1 and lisp2.get("out.smr", 0) >= 1
    assert lisp1.get("in.smr", 0) >= 1 and lisp1.get("out.map-request.smr-invoked", 0) >= 1
    # No probe round (every 60 s here): lisp1's only probes are those lisp2's locator-status
    # bits, which now say 10.0.2.2 is down, trigger (RFC 9300 section 10; TUN engine only).
    assert lisp1.get("out.rloc-probe", 0) <= lisp1.get("lsb.probe-triggered", 0)
    assert ping(3)  # through 10.0.3.2, from lisp2's usable RLOC
    forwarding: Any = _show("lisp1", "forwarding", "192.168.2.1")
    assert forwarding["rloc"].startswith("10.0.3.2")
    # The uplink back without its address; then the address added while the node runs.
    assert lab_exec("lisp2", "ip", "addr", "flush", "dev", "eth0").returncode == 0
    assert lab_exec("lisp2", "ip", "link", "set", "eth0", "up").returncode == 0
    time.sleep(0.5)
    assert _registered() == {"10.0.2.2": False, "10.0.3.2": True}
    assert lab_exec("lisp2", "ip", "addr", "add", "10.0.2.2/24", "dev", "eth0").returncode == 0
    assert _until(up) == up
    assert _registered() == {"10.0.2.2": True, "10.0.3.2": True}
    before = _kernel_counts()
    assert ping(3)  # through 10.0.2.2 again
    forwarding = _show("lisp1", "forwarding", "192.168.2.1")
    assert forwarding["rloc"].startswith("10.0.2.2")
    if kernel:  # lisp2's kernel program decapsulates to the address added after start
        assert _kernel_counts()[1] >= before[1] + 3
