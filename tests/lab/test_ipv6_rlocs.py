"""IPv4 EIDs over IPv6 RLOCs: the whole control plane and the outer headers in IPv6.

Runs with both data-plane engines; with eBPF the kernel must carry the packets
after the first (the miss) both ways: encapsulation into IPv6 and decapsulation
of UDP over IPv6 with its checksum.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
MAP_SERVER = Path(__file__).parents[2] / "src/lispstack/lab/topologies/seed/mapserver.toml"
XTR = """[node]
name = "lisp{n}"
roles = ["itr", "etr"]

[[database-mappings]]
eid-prefix = "192.168.{n}.0/24"
rlocs = [{{ address = "fd10:{n}::{n}", priority = 1, weight = 100 }}]

[[map-servers]]
address = "fd10:{n}::254"
auth-key = "site-{key}-secret"

[[map-resolvers]]
address = "fd10:{n}::254"
"""
TOPOLOGY = """name = "rsix"
[[nodes]]
name = "lisp1"
config = "lisp1.toml"
addresses = ["lo 192.168.1.1/32"]
routes = ["fd10:2::/64 via fd10:1::254"]

[[nodes]]
name = "mapserver"
config = "{map_server}"
forwarding = true

[[nodes]]
name = "lisp2"
config = "lisp2.toml"
addresses = ["lo 192.168.2.1/32"]
routes = ["fd10:1::/64 via fd10:2::254"]

[[links]]
a = "lisp1 eth0 fd10:1::1/64"
b = "mapserver to-lisp1 fd10:1::254/64"

[[links]]
a = "lisp2 eth0 fd10:2::2/64"
b = "mapserver to-lisp2 fd10:2::254/64"
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(params=["tun", "ebpf"])
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The lab with both xTRs on one data-plane engine (parametrised); yields the engine."""
    for n, key in ((1, "a"), (2, "b")):
        (tmp_path / f"lisp{n}.toml").write_text(XTR.format(n=n, key=key))
    (tmp_path / "rsix.toml").write_text(TOPOLOGY.format(map_server=MAP_SERVER))
    up = _run("lab", "up", str(tmp_path / "rsix.toml"), "--engine", request.param)
    assert up.returncode == 0, up.stderr
    try:
        yield request.param
    finally:
        _run("lab", "down", "--name", "rsix")


def _statistics(node: str) -> dict[str, int]:
    shown = _run("lab", "show", "--name", "rsix", node, "statistics", "--json")
    statistics: dict[str, int] = json.loads(shown.stdout)
    return statistics


def test_ipv4_eids_over_ipv6_rlocs(lab: str) -> None:
    ping = _run(
        "lab", "exec", "--name", "rsix", "lisp1", "--",
        "ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", "192.168.1.1", "192.168.2.1",
    )  # fmt: skip
    assert ping.returncode == 0 and "3 received" in ping.stdout, ping.stdout
    cache = json.loads(_run("lab", "show", "--name", "rsix", "lisp1", "map-cache", "--json").stdout)
    (entry,) = [e for e in cache if e["eid"] == "192.168.2.0/24"]
    assert entry["rlocs"][0]["address"] == "fd10:2::2"
    registrations = json.loads(
        _run("lab", "show", "--name", "rsix", "mapserver", "registrations", "--json").stdout
    )
    assert {r["registered_by"] for r in registrations} == {"fd10:1::1", "fd10:2::2"}
    if lab == "ebpf":  # after the first request (a miss: the TUN path), the kernel both ways
        assert _statistics("lisp1")["ebpf.encap.packets"] >= 2
        assert _statistics("lisp2")["ebpf.decap.packets"] >= 2
        assert _statistics("lisp2")["ebpf.encap.packets"] >= 2  # the replies
