"""RFC 9300 section 7.1 in a lab: a host behind an ITR learns the path MTU from ICMP.

 h1 192.168.1.10 -- 192.168.1.1 [lisp1] 10.0.1.1 -- [mapserver] -- 10.0.2.2 [lisp2] 192.168.2.1

lisp1's TUN takes 1500-byte packets, but `rloc-path-mtu = 1400` leaves 1364
bytes for an inner packet; h1 pings 192.168.2.1 with DF and 1400 bytes. On both
data-plane engines (the kernel's program hands too big a packet to the Python ITR).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
LAB = f"mtu{os.getpid() % 100000}"
XTR = """
[[nodes]]
name = "{name}"
addresses = [{addresses}]
routes = ["{route} via {gateway}"]
forwarding = true
[nodes.config.node]
roles = ["itr", "etr"]
[[nodes.config.database-mappings]]
eid-prefix = "{eid}"
rlocs = [{{ address = "{rloc}", priority = 1, weight = 100 }}]
[[nodes.config.map-servers]]
address = "{gateway}"
auth-key = "{key}"
[[nodes.config.map-resolvers]]
address = "{gateway}"
[nodes.config.itr]
rloc-path-mtu = 1400
[nodes.config.tun]
device = "lisp0"
mtu = 1500
"""
TOPOLOGY = (
    XTR.format(
        name="lisp1", addresses="", route="10.0.2.0/24", gateway="10.0.1.254",
        eid="192.168.1.0/24", rloc="10.0.1.1", key="site-a-secret",
    )
    + XTR.format(
        name="lisp2", addresses='"lo 192.168.2.1/32"', route="10.0.1.0/24",
        gateway="10.0.2.254", eid="192.168.2.0/24", rloc="10.0.2.2", key="site-b-secret",
    )
    + """
[[nodes]]
name = "h1"
routes = ["0.0.0.0/0 via 192.168.1.1"]

[[nodes]]
name = "mapserver"
forwarding = true
[nodes.config.node]
roles = ["map-server", "map-resolver"]
[[nodes.config.sites]]
name = "site-a"
auth-key = "site-a-secret"
eid-prefixes = ["192.168.1.0/24"]
[[nodes.config.sites]]
name = "site-b"
auth-key = "site-b-secret"
eid-prefixes = ["192.168.2.0/24"]

[[links]]
a = "lisp1 eth0 10.0.1.1/24"
b = "mapserver to-lisp1 10.0.1.254/24"

[[links]]
a = "lisp2 eth0 10.0.2.2/24"
b = "mapserver to-lisp2 10.0.2.254/24"

[[links]]
a = "h1 eth0 192.168.1.10/24"
b = "lisp1 site 192.168.1.1/24"
"""
)  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(params=["tun", "ebpf"])
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The lab's name and its xTRs' data-plane engine."""
    topology = tmp_path / "mtu.toml"
    topology.write_text(TOPOLOGY)
    up = _run("lab", "up", str(topology), "--name", LAB, "--engine", request.param)
    assert up.returncode == 0, up.stderr
    try:
        yield LAB, request.param
    finally:
        _run("lab", "down", "--name", LAB)


def _ping(size: int) -> str:
    ping = _run(
        "lab", "exec", "--name", LAB, "h1", "--",
        "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "-M", "do", "-s", str(size), "192.168.2.1",
    )  # fmt: skip
    return ping.stdout + ping.stderr


def test_a_host_behind_the_itr_learns_the_path_mtu_and_then_gets_through(
    lab: tuple[str, str],
) -> None:
    name, engine = lab
    assert " 0% packet loss" in _ping(56)  # resolves the mapping
    too_big = _ping(1400 - 28)  # 1400 bytes: 36 too many with the LISP headers
    assert "Frag needed and DF set (mtu = 1364)" in too_big or "mtu=1364" in too_big, too_big
    shown = _run("lab", "show", "--name", name, "lisp1", "statistics", "--json")
    statistics = json.loads(shown.stdout)
    assert statistics["icmp-too-big-sent"] >= 1
    assert statistics["drop.too-big"] >= 1
    assert " 0% packet loss" in _ping(1364 - 28), "a packet of the size it was told fits"
    shown = _run("lab", "show", "--name", name, "lisp1", "forwarding", "192.168.2.1", "--json")
    assert json.loads(shown.stdout)["plane"] == engine  # small packets: the engine's plane
