"""The seed scenario's data plane in real namespaces: lisp1, mapserver, lisp2, real ping.

192.168.1.1 [lisp1] 10.0.1.1 - 10.0.1.254 [mapserver] 10.0.2.254 - 10.0.2.2 [lisp2] 192.168.2.1
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lispstack.lab import netns

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")

XTR = """[node]
name = "{name}"
roles = ["itr", "etr"]
control-socket = "{socket}"

[[database-mappings]]
eid-prefix = "{eid}"
rlocs = [{{ address = "{rloc}", priority = 1, weight = 100 }}]

[[map-servers]]
address = "{ms}"
auth-key = "{key}"
proxy-reply = {proxy}

[[map-resolvers]]
address = "{ms}"

[data-plane]
engine = "{engine}"
"""
MAP_SERVER = """[node]
name = "mapserver"
roles = ["map-server", "map-resolver"]
control-socket = "{socket}"

[[sites]]
name = "site-a"
auth-key = "site-a-secret"
eid-prefixes = ["192.168.1.0/24"]

[[sites]]
name = "site-b"
auth-key = "site-b-secret"
eid-prefixes = ["192.168.2.0/24"]
"""


@dataclass
class Seed:
    prefix: str
    directory: Path
    processes: dict[str, subprocess.Popen[bytes]]
    engine: str = "tun"

    def ns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def show(self, node: str, topic: str, arg: str | None = None) -> Any:
        command = [LISPSTACK, "show", "--socket", str(self.directory / f"{node}.sock"), topic]
        result = subprocess.run(
            [*command, *([arg] if arg else []), "--json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return json.loads(result.stdout)

    def ping(self, node: str, source: str, destination: str, count: int = 1) -> bool:
        """Echo requests 0.2 s apart, each answered within 2 s."""
        argv = ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", "2", "-I", source, destination]
        return netns.run_in(self.ns(node), argv).returncode == 0

    def unanswered(self, node: str, source: str, destination: str) -> bool:
        """One echo request, no reply within 1 s (a lab answers in milliseconds)."""
        argv = ["ping", "-n", "-c", "1", "-W", "1", "-I", source, destination]
        return netns.run_in(self.ns(node), argv).returncode != 0

    def log(self, node: str) -> str:
        return (self.directory / f"{node}.log").read_text()


def _wait(predicate: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (subprocess.CalledProcessError, KeyError, IndexError):
            pass
        time.sleep(0.2)
    return False


@pytest.fixture(params=["tun", "ebpf"])
def seed(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Seed]:
    """The lab with both xTRs on one data-plane engine (parametrised)."""
    engine = request.param
    lab = Seed(f"ls{os.getpid() % 10000}", tmp_path, {}, engine)
    names = ["lisp1", "mapserver", "lisp2"]
    try:
        for name in names:
            netns.create(lab.ns(name))
        netns.veth(
            lab.ns("lisp1"), "eth0", "10.0.1.1/24", lab.ns("mapserver"), "to-lisp1", "10.0.1.254/24"
        )
        netns.veth(
            lab.ns("lisp2"), "eth0", "10.0.2.2/24", lab.ns("mapserver"), "to-lisp2", "10.0.2.254/24"
        )
        netns.sysctl(lab.ns("mapserver"), "net.ipv4.ip_forward", "1")
        netns.add_address(lab.ns("lisp1"), "lo", "192.168.1.1/32")
        netns.add_address(lab.ns("lisp2"), "lo", "192.168.2.1/32")
        netns.add_route(lab.ns("lisp1"), "10.0.2.0/24", "10.0.1.254")
        netns.add_route(lab.ns("lisp2"), "10.0.1.0/24", "10.0.2.254")
        configs = {
            "mapserver": MAP_SERVER.format(socket=tmp_path / "mapserver.sock"),
            "lisp1": XTR.format(
                name="lisp1",
                socket=tmp_path / "lisp1.sock",
                eid="192.168.1.0/24",
                rloc="10.0.1.1",
                ms="10.0.1.254",
                key="site-a-secret",
                proxy="false",
                engine=engine,
            ),
            "lisp2": XTR.format(
                name="lisp2",
                socket=tmp_path / "lisp2.sock",
                eid="192.168.2.0/24",
                rloc="10.0.2.2",
                ms="10.0.2.254",
                key="site-b-secret",
                proxy="false",
                engine=engine,
            ),
        }
        for name in names:
            config = tmp_path / f"{name}.toml"
            config.write_text(configs[name])
            lab.processes[name] = netns.popen_in(
                lab.ns(name), [LISPSTACK, "run", str(config)], str(tmp_path / f"{name}.log")
            )
        for name in ("lisp1", "lisp2"):
            assert _wait(
                lambda n=name: (
                    lab.show(n, "database")[0]["registrations"][0]["state"] == "registered"
                )
            ), lab.log(name)
        yield lab
    finally:
        for process in lab.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in lab.processes.items():
            try:
                assert process.wait(timeout=20) == 0, lab.log(name)
            except subprocess.TimeoutExpired:
                process.kill()
        for name in ("lisp1", "lisp2"):  # a stopped node leaves no program attached
            filters = netns.run_in(lab.ns(name), ["tc", "filter", "show", "dev", "eth0", "ingress"])
            assert "pref 4341" not in filters.stdout, filters.stdout
        for name in names:
            netns.delete(lab.ns(name))


def test_seed_scenario_data_plane(seed: Seed) -> None:
    # Step 2: sourced from the RLOC, 4.2.2.2 is not LISP-eligible: native, no Map-Request.
    assert seed.unanswered("lisp1", "10.0.1.1", "4.2.2.2")
    assert seed.show("lisp1", "statistics").get("out.map-request", 0) == 0

    # Step 3: from the EID, a negative reply 0.0.0.0/1 natively-forward; no second request.
    assert seed.unanswered("lisp1", "192.168.1.1", "4.2.2.2")
    assert _wait(lambda: any(e["eid"] == "0.0.0.0/1" for e in seed.show("lisp1", "map-cache")))
    (entry,) = [e for e in seed.show("lisp1", "map-cache") if e["eid"] == "0.0.0.0/1"]
    assert entry["action"] == "natively-forward"
    requests = seed.show("lisp1", "statistics")["out.map-request"]
    assert seed.unanswered("lisp1", "192.168.1.1", "4.2.2.3")
    assert seed.show("lisp1", "statistics")["out.map-request"] == requests

    # Step 4: EID to EID, the very first ping succeeds, encapsulated both ways.
    assert seed.ping("lisp1", "192.168.1.1", "192.168.2.1", count=1), seed.log("lisp1")
    assert seed.ping("lisp1", "192.168.1.1", "192.168.2.1", count=3)
    cache1 = {e["eid"]: e for e in seed.show("lisp1", "map-cache")}
    cache2 = {e["eid"]: e for e in seed.show("lisp2", "map-cache")}
    assert cache1["192.168.2.0/24"]["rlocs"][0]["address"] == "10.0.2.2"
    assert cache2["192.168.1.0/24"]["rlocs"][0]["address"] == "10.0.1.1"
    assert seed.show("mapserver", "statistics")["forward.to-etr"] >= 2
    statistics = seed.show("lisp1", "statistics")
    if seed.engine == "tun":
        assert statistics["encap.packets"] >= 4 and statistics["decap.packets"] >= 4
        return
    # eBPF: the first packet took the TUN path (the miss), the rest the kernel, both ways.
    assert statistics["encap.packets"] >= 1 and statistics["ebpf.encap.packets"] >= 3
    assert seed.show("lisp2", "statistics")["ebpf.decap.packets"] >= 3
    forwarding = seed.show("lisp1", "forwarding", "192.168.2.1")
    assert (forwarding["verdict"], forwarding["plane"]) == ("encapsulate", "ebpf")
