"""Failover on RLOC probes, in a real lab: lisp2 has two uplinks (RLOCs 10.0.2.2 priority 1,
10.0.3.2 priority 2); its first uplink goes down, lisp1's probes miss, traffic moves to the
second RLOC; the uplink comes back, a probe is answered, traffic returns."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
SEED = Path(__file__).parents[2] / "src/lispstack/lab/topologies/seed"
PROBING = "\n[itr]\nrloc-probe-interval = 1\nrloc-probe-misses = 2\n"
LISP2 = """[node]
name = "lisp2"
roles = ["itr", "etr"]

[[database-mappings]]
eid-prefix = "192.168.2.0/24"
rlocs = [
    { address = "10.0.2.2", priority = 1, weight = 100 },
    { address = "10.0.3.2", priority = 2, weight = 100 },
]

[[map-servers]]
address = "10.0.2.254"
auth-key = "site-b-secret"

[[map-resolvers]]
address = "10.0.2.254"
"""
TOPOLOGY = """name = "mhome"
[[nodes]]
name = "lisp1"
config = "lisp1.toml"
addresses = ["lo 192.168.1.1/32"]
routes = ["10.0.2.0/24 via 10.0.1.254", "10.0.3.0/24 via 10.0.1.254"]

[[nodes]]
name = "mapserver"
config = "{map_server}"
forwarding = true

[[nodes]]
name = "lisp2"
config = "lisp2.toml"
addresses = ["lo 192.168.2.1/32"]
routes = ["10.0.1.0/24 via 10.0.2.254"]

[[links]]
a = "lisp1 eth0 10.0.1.1/24"
b = "mapserver to-lisp1 10.0.1.254/24"

[[links]]
a = "lisp2 eth0 10.0.2.2/24"
b = "mapserver to-lisp2 10.0.2.254/24"

[[links]]
a = "lisp2 eth1 10.0.3.2/24"
b = "mapserver to-lisp2b 10.0.3.254/24"
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=120, check=False
    )


def _exec(node: str, *command: str) -> subprocess.CompletedProcess[str]:
    return _run("lab", "exec", "--name", "mhome", node, "--", *command)


def _ping(count: int = 1) -> bool:
    ping = _exec("lisp1", "ping", "-c", str(count), "-W", "1", "-I", "192.168.1.1", "192.168.2.1")
    return ping.returncode == 0


def _rloc_states() -> dict[str, str]:
    shown = _run("lab", "show", "--name", "mhome", "lisp1", "map-cache", "192.168.2.1", "--json")
    (entry,) = json.loads(shown.stdout)
    return {r["address"]: r.get("probe", {}).get("state", "?") for r in entry["rlocs"]}


def _wait_for(states: dict[str, str], seconds: float) -> dict[str, str]:
    deadline = time.monotonic() + seconds
    while True:
        _ping()  # keeps the mapping in use
        now = _rloc_states()
        if now == states or time.monotonic() > deadline:
            return now
        time.sleep(0.3)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    lisp1 = (SEED / "lisp1.toml").read_text() + PROBING
    (tmp_path / "lisp1.toml").write_text(lisp1)
    (tmp_path / "lisp2.toml").write_text(LISP2)
    (tmp_path / "mhome.toml").write_text(TOPOLOGY.format(map_server=SEED / "mapserver.toml"))
    up = _run("lab", "up", str(tmp_path / "mhome.toml"))
    assert up.returncode == 0, up.stderr
    try:
        # lisp2 answers on its second uplink once the first is gone.
        route = _exec(
            "lisp2", "ip", "route", "add", "10.0.1.0/24", "via", "10.0.3.254", "metric", "100"
        )
        assert route.returncode == 0, route.stderr
        yield "mhome"
    finally:
        _run("lab", "down", "--name", "mhome")


def test_missed_probes_move_traffic_to_the_second_rloc_and_back(lab: str) -> None:
    assert _ping(2)
    up = {"10.0.2.2": "up", "10.0.3.2": "up"}
    assert _wait_for(up, 10) == up
    assert _exec("lisp2", "ip", "link", "set", "eth0", "down").returncode == 0
    failed_over = {"10.0.2.2": "down", "10.0.3.2": "up"}
    assert _wait_for(failed_over, 10) == failed_over
    assert _ping(3)  # through 10.0.3.2
    assert _exec("lisp2", "ip", "link", "set", "eth0", "up").returncode == 0
    assert _wait_for(up, 10) == up
    assert _ping(2)
