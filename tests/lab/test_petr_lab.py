"""A site reaching a non-LISP host through a Proxy-ETR: lisp1 -> PETR -> 4.2.2.2.

    192.168.1.1 [lisp1] 10.0.1.1 - 10.0.1.254 [mapserver] 10.0.3.254 - 10.0.3.3 [pxtr]
    [pxtr] 172.16.0.1 - 172.16.0.2 [internet] 4.2.2.2

lisp1 uses the PETR; the way back is plain routing (a Proxy-ITR comes later).
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
SEED = Path(__file__).parents[2] / "src/lispstack/lab/topologies/seed"
PETR = """[node]
name = "pxtr"
roles = ["petr"]
"""
TOPOLOGY = """name = "petr"
[[nodes]]
name = "lisp1"
config = "lisp1.toml"
addresses = ["lo 192.168.1.1/32"]
routes = ["10.0.3.0/24 via 10.0.1.254"]

[[nodes]]
name = "mapserver"
config = "{seed}/mapserver.toml"
forwarding = true
routes = ["192.168.1.0/24 via 10.0.1.1"]

[[nodes]]
name = "pxtr"
config = "pxtr.toml"
forwarding = true
routes = ["4.2.2.2/32 via 172.16.0.2", "192.168.0.0/16 via 10.0.3.254"]

[[nodes]]
name = "internet"
addresses = ["lo 4.2.2.2/32"]
routes = ["192.168.0.0/16 via 172.16.0.1"]

[[links]]
a = "lisp1 eth0 10.0.1.1/24"
b = "mapserver to-lisp1 10.0.1.254/24"

[[links]]
a = "pxtr eth0 10.0.3.3/24"
b = "mapserver to-pxtr 10.0.3.254/24"

[[links]]
a = "internet eth0 172.16.0.2/30"
b = "pxtr to-inet 172.16.0.1/30"
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(params=["tun", "ebpf"])
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The lab, its xTR and PETR on each data-plane engine in turn."""
    lisp1 = (SEED / "lisp1.toml").read_text()
    (tmp_path / "lisp1.toml").write_text(
        lisp1 + '\n[[petrs]]\naddress = "10.0.3.3"\npriority = 1\nweight = 100\n'
    )
    (tmp_path / "pxtr.toml").write_text(PETR)
    (tmp_path / "petr.toml").write_text(TOPOLOGY.format(seed=SEED))
    up = _run("lab", "up", str(tmp_path / "petr.toml"), "--engine", request.param)
    assert up.returncode == 0, up.stderr
    try:
        yield "petr"
    finally:
        _run("lab", "down", "--name", "petr")


def _statistics(lab: str, node: str) -> dict[str, int]:
    result = _run("lab", "show", "--name", lab, node, "statistics", "--json")
    statistics: dict[str, int] = json.loads(result.stdout)
    return statistics


def test_site_reaches_a_non_lisp_host_through_the_petr(
    lab: str, request: pytest.FixtureRequest
) -> None:
    ping = _run(
        "lab",
        "exec",
        "--name",
        lab,
        "lisp1",
        "--",
        "ping",
        "-c",
        "2",
        "-W",
        "2",
        "-I",
        "192.168.1.1",
        "4.2.2.2",
    )
    assert ping.returncode == 0 and "2 received" in ping.stdout, ping.stdout
    lisp1, pxtr = _statistics(lab, "lisp1"), _statistics(lab, "pxtr")
    assert lisp1["encap.to-petr"] >= 2
    assert pxtr["petr.forwarded"] >= 2
    if request.node.callspec.params["lab"] == "ebpf":
        # a PETR without TUN or ITR: its decapsulation in the kernel; the first packet
        # of the flow is Python's (lisp1's miss, pxtr's neighbour towards 4.2.2.2)
        assert lisp1["ebpf.encap.to-petr"] >= 1, lisp1
        assert pxtr["ebpf.petr.forwarded"] >= 1, pxtr
    else:
        assert not [name for name in lisp1 | pxtr if name.startswith("ebpf.")]
