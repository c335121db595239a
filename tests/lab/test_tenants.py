"""Instance-ids on xTRs in the tenants lab: two tenants with the same addresses at each
site, each reaching only itself, both directions; an unserved instance-id is dropped."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lispstack.lab.state import LAB_ROOT

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
LAB = "tnts"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=120, check=False
    )


def _exec(node: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return _run("lab", "exec", "--name", LAB, node, "--", *argv)


def _read_in(host: str, path: str) -> str:
    """A file of `host`'s namespace (NAME-HOST; ip netns exec: no Python to start)."""
    argv = ["ip", "netns", "exec", f"{LAB}-{host}", "cat", path]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout


def _echo_requests(host: str, destination: str) -> int:
    """ICMP echo requests of `destination`'s family that `host` has received (its
    namespace's /proc/net/snmp or snmp6)."""
    if ":" in destination:
        counters = dict(line.split() for line in _read_in(host, "/proc/net/snmp6").splitlines())
        return int(counters["Icmp6InEchos"])
    lines = [line.split() for line in _read_in(host, "/proc/net/snmp").splitlines()]
    names, values = [line for line in lines if line[0] == "Icmp:"][:2]
    return int(values[names.index("InEchos")])


@pytest.fixture(scope="module", params=["tun", "ebpf"])
def lab(request: pytest.FixtureRequest) -> Iterator[str]:
    """The tenants lab, its xTRs on each data-plane engine in turn."""
    up = _run("lab", "up", "tenants", "--name", LAB, "--engine", request.param)
    assert up.returncode == 0, up.stderr
    try:
        yield LAB
    finally:
        _run("lab", "down", "--name", LAB)


@pytest.mark.parametrize(
    ("source", "destination", "reached", "other"),
    [
        ("h1-100", "10.2.0.2", "h2-100", "h2-200"),
        ("h1-200", "10.2.0.2", "h2-200", "h2-100"),
        ("h2-100", "10.1.0.2", "h1-100", "h1-200"),
        ("h2-200", "10.1.0.2", "h1-200", "h1-100"),
        ("h1-100", "fd00:2::2", "h2-100", "h2-200"),
        ("h1-200", "fd00:2::2", "h2-200", "h2-100"),
        ("h2-100", "fd00:1::2", "h1-100", "h1-200"),
        ("h2-200", "fd00:1::2", "h1-200", "h1-100"),
    ],
)
def test_a_tenant_reaches_its_own_host_only_though_both_tenants_use_the_address(
    lab: str, source: str, destination: str, reached: str, other: str
) -> None:
    before = {host: _echo_requests(host, destination) for host in (reached, other)}
    ping = _exec(source, "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", destination)
    assert "3 received" in ping.stdout, ping.stdout + ping.stderr
    assert _echo_requests(reached, destination) - before[reached] == 3
    assert _echo_requests(other, destination) == before[other]


def test_the_map_cache_holds_each_tenants_mapping_under_its_instance_id(lab: str) -> None:
    _exec("h1-100", "ping", "-n", "-c", "1", "-W", "2", "10.2.0.2")
    _exec("h1-200", "ping", "-n", "-c", "1", "-W", "2", "10.2.0.2")
    cache = json.loads(_run("lab", "show", "--name", lab, "lisp1", "map-cache", "--json").stdout)
    assert {(100, "10.2.0.0/24"), (200, "10.2.0.0/24")} <= {(e["iid"], e["eid"]) for e in cache}
    # statistics per instance-id, at both ends
    sent, received = (_statistics(node) for node in ("lisp1", "lisp2"))
    for iid in (100, 200):
        assert sent[f"iid.{iid}.encapsulated"] > 0  # the first packet: the Python ITR's
        # The ETR: the Python plane counts per instance-id; the eBPF engine's kernel
        # decapsulates every packet here, IPv4 and IPv6, and counts them all together.
        decapsulated = received.get(f"iid.{iid}.decapsulated", 0)
        assert decapsulated > 0 or received.get("ebpf.decap.packets", 0) > 0
    # per instance-id: what the Python plane encapsulated (encap.packets adds the kernel's)
    assert sum(sent.get(f"iid.{iid}.encapsulated", 0) for iid in (0, 100, 200)) == sent[
        "encap.packets"
    ] - sent.get("ebpf.encap.packets", 0)


def _statistics(node: str) -> dict[str, int]:
    shown = _run("lab", "show", "--name", LAB, node, "statistics", "--json").stdout
    statistics: dict[str, int] = json.loads(shown)
    return statistics


def _table(node: str, table: int) -> str:
    argv = ["ip", "-n", f"{LAB}-{node}", "route", "show", "table", str(table)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout


def test_a_route_added_after_start_is_copied_into_its_tenants_table_and_removed(lab: str) -> None:
    copy = "10.77.0.0/24 dev t100 proto 251"
    assert copy not in _table("lisp1", 100)
    added = _exec("lisp1", "ip", "route", "add", "10.77.0.0/24", "dev", "t100")
    assert added.returncode == 0, added.stderr
    try:
        assert _wait(lambda: copy in _table("lisp1", 100)), _table("lisp1", 100)
        assert "10.77.0.0/24" not in _table("lisp1", 200)  # tenant 200's domain: untouched
    finally:
        _exec("lisp1", "ip", "route", "del", "10.77.0.0/24", "dev", "t100")
    assert _wait(lambda: "10.77.0.0/24" not in _table("lisp1", 100)), _table("lisp1", 100)


def _wait(predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 10
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


SEND_IID_300 = """
import socket
from lispstack.core.encapsulation import data_header
from lispstack.wire.ip_udp import build_ipv4
from ipaddress import ip_address
inner = build_ipv4(ip_address("10.1.0.2"), ip_address("10.2.0.2"), 1, b"\\x08\\x00ping")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(data_header(1, 1, iid=300) + inner, ("10.0.2.2", 4341))
"""


def test_a_packet_of_an_unserved_instance_id_is_dropped_and_counted(lab: str) -> None:
    sent = _exec("lisp1", sys.executable, "-c", SEND_IID_300)
    assert sent.returncode == 0, sent.stderr
    for _ in range(50):  # the datagram may still be on its way
        statistics = _statistics("lisp2")
        if "drop.decap-unserved-iid" in statistics:
            break
        time.sleep(0.1)
    assert statistics.get("drop.decap-unserved-iid") == 1
    assert not [name for name in statistics if name.startswith("iid.300.")]


def test_the_tenants_demo_holds_every_check(tmp_path: Path) -> None:
    capture = tmp_path / "demo.pcapng"
    result = _run("demo", "--tenants", "--json", "--name", "tntdemo", "--capture", str(capture))
    report = json.loads(result.stdout)
    failed = [
        (s["title"], c["check"]) for s in report["steps"] for c in s["checks"] if not c["passed"]
    ]
    assert result.returncode == 0 and report["passed"], failed
    checks = {c["check"] for s in report["steps"] for c in s["checks"]}
    assert {"[100]10.2.0.0/24 registered by 10.0.2.2 for site-2",
            "h2-100 got the 3 echo requests to 10.2.0.2, h2-200 none",
            "h1-200 got the 3 echo requests to fd00:1::2, h1-100 none",
            } <= checks  # fmt: skip
    # the capture's packet count varies with what its two capture points saw: at least
    # the 12 echo requests and replies of one tenant and family, every one with its iid
    for iid, version in ((100, 4), (200, 6)):
        carried = [
            re.fullmatch(
                rf"tenant {iid}'s (\d+) encapsulated IPv{version} packets all "
                rf"carry instance-id {iid}",
                check,
            )
            for check in checks
        ]
        assert [int(m[1]) for m in carried if m and int(m[1]) >= 12], checks
    # a demo not kept removes its lab
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "tntdemo-" not in namespaces and not (LAB_ROOT / "tntdemo").exists()
