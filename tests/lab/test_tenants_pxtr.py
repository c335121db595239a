"""Proxy xTRs per instance-id in the tenants-pxtr lab: a non-LISP host of tenant 100
reaches tenant 100's LISP site through the PITR, tenant 200's LISP site reaches a
non-LISP host of tenant 200 through the PETR, though both tenants use the same
addresses; nothing crosses between tenants (their hosts' counters, and the capture
read by instance-id with tshark); an unserved instance-id is dropped at the PETR."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
LAB = "pxtnt"
PATTERN = {100: "a100a100", 200: "b200b200"}
"""Each tenant's echo payload pattern (ping -p), to tell its packets in the capture."""
SEND_IID_300 = """
import socket
from ipaddress import ip_address
from lispstack.core.encapsulation import data_header
from lispstack.wire.ip_udp import build_ipv4
inner = build_ipv4(ip_address("10.1.0.2"), ip_address("192.0.2.2"), 1, b"\\x08\\x00ping")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(data_header(1, 1, iid=300) + inner, ("10.0.3.3", 4341))
"""


@dataclass
class Traffic:
    pings: dict[str, str]
    """The output of each tenant's ping, by source host."""
    echoes: dict[str, int]
    """Echo requests each host received during the pings."""
    statistics: dict[str, dict[str, int]]
    tables: dict[str, str]
    """The PxTR's routing tables ("main", "100", "200"), as `ip route show table` shows them."""
    capture: Path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=120, check=False
    )


def _exec(node: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return _run("lab", "exec", "--name", LAB, node, "--", *argv)


def _echo_requests(host: str) -> int:
    argv = ["ip", "netns", "exec", f"{LAB}-{host}", "cat", "/proc/net/snmp"]
    text = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    names, values = [line.split() for line in text.splitlines() if line.startswith("Icmp:")][:2]
    return int(values[names.index("InEchos")])


def _statistics(node: str) -> dict[str, int]:
    shown = _run("lab", "show", "--name", LAB, node, "statistics", "--json").stdout
    statistics: dict[str, int] = json.loads(shown)
    return statistics


def _table(table: str) -> str:
    argv = ["ip", "-n", f"{LAB}-pxtr", "route", "show", "table", table]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traffic]:
    """One run of the lab: tenant 100 in through the PITR, tenant 200 out through the
    PETR, one packet of instance-id 300 to the PETR; then the capture."""
    capture = tmp_path_factory.mktemp("pxtnt") / "pxtnt.pcapng"
    up = _run("lab", "up", "tenants-pxtr", "--name", LAB, "--capture", str(capture))
    assert up.returncode == 0, up.stderr
    try:
        hosts = ("h1-100", "h1-200", "out-100", "out-200")
        before = {host: _echo_requests(host) for host in hosts}
        pings = {}
        for source, destination, iid in (("out-100", "10.1.0.2", 100),
                                         ("h1-200", "192.0.2.2", 200)):  # fmt: skip
            argv = ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-p", PATTERN[iid]]
            ping = _exec(source, *argv, destination)
            pings[source] = ping.stdout + ping.stderr
        echoes = {host: _echo_requests(host) - before[host] for host in hosts}
        sent = _exec("lisp1", sys.executable, "-c", SEND_IID_300)
        assert sent.returncode == 0, sent.stderr
        for _ in range(50):  # the datagram may still be on its way
            if "drop.petr-instance-id" in _statistics("pxtr"):
                break
            time.sleep(0.1)
        statistics = {node: _statistics(node) for node in ("pxtr", "lisp1")}
        tables = {table: _table(table) for table in ("main", "100", "200")}
    finally:
        down = _run("lab", "down", "--name", LAB)
    assert down.returncode == 0, down.stderr
    yield Traffic(pings, echoes, statistics, tables, capture)


def test_a_non_lisp_host_of_tenant_100_reaches_its_lisp_site_through_the_pitr(
    traffic: Traffic,
) -> None:
    assert "3 received" in traffic.pings["out-100"], traffic.pings["out-100"]
    assert (traffic.echoes["h1-100"], traffic.echoes["h1-200"]) == (3, 0)
    pxtr = traffic.statistics["pxtr"]
    assert pxtr["pitr.packets"] >= 3 and pxtr["iid.100.encapsulated"] >= 3
    # its replies: from the LISP site to a non-LISP host, so through the PETR in tenant 100
    assert pxtr["iid.100.decapsulated"] >= 3


def test_the_pitr_attracts_each_tenants_prefix_in_that_tenants_table_only(
    traffic: Traffic,
) -> None:
    for iid in (100, 200):
        assert f"10.1.0.0/24 dev lisp-pxtr.{iid} proto 250" in traffic.tables[str(iid)]
    assert "10.1.0.0/24" not in traffic.tables["main"]


def test_a_lisp_site_of_tenant_200_reaches_a_non_lisp_host_through_the_petr(
    traffic: Traffic,
) -> None:
    assert "3 received" in traffic.pings["h1-200"], traffic.pings["h1-200"]
    assert (traffic.echoes["out-200"], traffic.echoes["out-100"]) == (3, 0)
    assert traffic.statistics["lisp1"]["encap.to-petr"] >= 6  # both tenants' traffic
    assert traffic.statistics["pxtr"]["iid.200.decapsulated"] >= 3


def test_an_unserved_instance_id_is_dropped_at_the_petr(traffic: Traffic) -> None:
    pxtr = traffic.statistics["pxtr"]
    assert pxtr.get("drop.petr-instance-id") == 1
    assert not [name for name in pxtr if name.startswith("iid.300.")]


def test_the_capture_carries_each_tenants_packets_with_its_own_instance_id_only(
    traffic: Traffic,
) -> None:
    fields = ["ip.src", "lisp-data.iid", "icmp.type", "data.data"]
    argv = ["tshark", "-r", str(traffic.capture), "-Y", "lisp-data and icmp", "-T", "fields"]
    shown = subprocess.run(
        argv + [a for f in fields for a in ("-e", f)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    seen: Counter[tuple[str, int, str, int]] = Counter()
    for line in shown.splitlines():
        outer_inner, iid, kind, data = line.split("\t")
        tenant = next((t for t, pattern in PATTERN.items() if pattern in data), 0)
        seen[
            (outer_inner.split(",")[0], int(iid), "request" if kind == "8" else "reply", tenant)
        ] += 1
    # each packet seen on both RLOC links; tenant 100: requests from the PITR, replies to
    # the PETR; tenant 200: requests to the PETR, replies from the PITR
    assert seen == {
        ("10.0.3.3", 100, "request", 100): 6,
        ("10.0.1.1", 100, "reply", 100): 6,
        ("10.0.1.1", 200, "request", 200): 6,
        ("10.0.3.3", 200, "reply", 200): 6,
        ("10.0.1.1", 300, "request", 0): 2,  # SEND_IID_300's, as sent
    }
