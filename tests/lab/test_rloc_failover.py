"""Failover on RLOC probes, in a real lab: lisp2 has two uplinks (RLOCs 10.0.2.2 priority 1,
10.0.3.2 priority 2); its first uplink goes down, lisp1's probes miss, traffic moves to the
second RLOC; the uplink comes back, a probe is answered, traffic returns."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

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
    assert lab_exec("lisp2", "ip", "link", "set", "eth0", "down").returncode == 0
    failed_over = {"10.0.2.2": "down", "10.0.3.2": "up"}
    assert _wait_for(failed_over, 10) == failed_over
    encapsulated, decapsulated = _kernel_counts()
    assert ping(3)  # through 10.0.3.2
    if kernel:  # the BPF map-cache took the reachability change: the kernel carries it,
        # and lisp2 decapsulates in the kernel on its second RLOC too
        now_encapsulated, now_decapsulated = _kernel_counts()
        assert now_encapsulated >= encapsulated + 3
        assert now_decapsulated >= decapsulated + 3
    assert lab_exec("lisp2", "ip", "link", "set", "eth0", "up").returncode == 0
    assert _wait_for(up, 10) == up
    assert ping(2)
