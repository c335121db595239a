"""Proxy xTRs per instance-id in the tenants-pxtr lab: a non-LISP host of tenant 100
reaches tenant 100's LISP site through the PITR, tenant 200's LISP site reaches a
non-LISP host of tenant 200 through the PETR, IPv4 and IPv6, though both tenants use
the same addresses; nothing crosses between tenants (their hosts' counters, and the
capture read by instance-id with tshark); an unserved instance-id is dropped at the
PETR. On both data-plane engines (the kernel leaves other instance-ids than 0 to the
Python proxy roles)."""

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

from helpers.lab_hosts import echo_requests

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
LAB = "pxtnt"
PINGS = {
    100: ("out-100", ("10.1.0.2", "fd00:1::2"), "h1-100", "h1-200"),
    200: ("h1-200", ("192.0.2.2", "2001:db8:2::2"), "out-200", "out-100"),
}
"""Tenant: the host that pings, its destinations, the host reached, the other tenant's
host with the same addresses."""
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
    """The output of each ping, by destination."""
    echoes: dict[tuple[str, str], int]
    """Echo requests each host received during the pings, by (host, destination)."""
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


def _statistics(node: str) -> dict[str, int]:
    shown = _run("lab", "show", "--name", LAB, node, "statistics", "--json").stdout
    statistics: dict[str, int] = json.loads(shown)
    return statistics


def _table(table: str) -> str:
    shown = []
    for family in ("-4", "-6"):
        argv = ["ip", family, "-n", f"{LAB}-pxtr", "route", "show", "table", table]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
        shown.append(run.stdout)
    return "".join(shown)


def _ping_all() -> tuple[dict[str, str], dict[tuple[str, str], int]]:
    """Each tenant's pings, and the echo requests each of the four hosts received."""
    pings, echoes = {}, {}
    for iid, (source, destinations, reached, other) in PINGS.items():
        for destination in destinations:
            hosts = (reached, other)
            before = {h: echo_requests(f"{LAB}-{h}", destination) for h in hosts}
            argv = ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-p", PATTERN[iid]]
            ping = _exec(source, *argv, destination)
            pings[destination] = ping.stdout + ping.stderr
            for h in hosts:
                echoes[h, destination] = echo_requests(f"{LAB}-{h}", destination) - before[h]
    return pings, echoes


@pytest.fixture(scope="module", params=["tun", "ebpf"])
def traffic(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Traffic]:
    """One run of the lab on one engine: tenant 100 in through the PITR, tenant 200 out
    through the PETR, one packet of instance-id 300 to the PETR; then the capture."""
    capture = tmp_path_factory.mktemp("pxtnt") / "pxtnt.pcapng"
    argv = ["lab", "up", "tenants-pxtr", "--name", LAB, "--engine", request.param]
    up = _run(*argv, "--capture", str(capture))
    assert up.returncode == 0, up.stderr
    try:
        pings, echoes = _ping_all()
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


@pytest.mark.parametrize("iid", [100, 200])
def test_each_tenant_reaches_its_own_host_only_through_the_proxy_xtr(
    traffic: Traffic, iid: int
) -> None:
    """Tenant 100: from a non-LISP host into the LISP site (PITR); tenant 200: from the
    LISP site to a non-LISP host (PETR); the replies take the other proxy role."""
    _, destinations, reached, other = PINGS[iid]
    for destination in destinations:
        assert "3 received" in traffic.pings[destination], traffic.pings[destination]
        assert traffic.echoes[reached, destination] == 3
        assert traffic.echoes[other, destination] == 0
    pxtr = traffic.statistics["pxtr"]
    assert pxtr[f"iid.{iid}.encapsulated"] >= 6  # by the PITR: requests or replies
    assert pxtr[f"iid.{iid}.decapsulated"] >= 6  # by the PETR
    assert traffic.statistics["lisp1"][f"iid.{iid}.encapsulated"] >= 6  # to the PETR


def test_the_pitr_attracts_each_tenants_prefixes_in_that_tenants_table_only(
    traffic: Traffic,
) -> None:
    for iid in (100, 200):
        for prefix in ("10.1.0.0/24", "fd00:1::/64"):
            assert f"{prefix} dev lisp-pxtr.{iid} proto 250" in traffic.tables[str(iid)]
    for prefix in ("10.1.0.0/24", "fd00:1::/64"):
        assert prefix not in traffic.tables["main"]


def test_an_unserved_instance_id_is_dropped_at_the_petr(traffic: Traffic) -> None:
    pxtr = traffic.statistics["pxtr"]
    assert pxtr.get("drop.petr-instance-id") == 1
    assert not [name for name in pxtr if name.startswith("iid.300.")]


def test_the_capture_carries_each_tenants_packets_with_its_own_instance_id_only(
    traffic: Traffic,
) -> None:
    fields = ["ip.src", "lisp-data.iid", "icmp.type", "icmpv6.type", "data.data"]
    argv = ["tshark", "-r", str(traffic.capture), "-Y", "lisp-data and (icmp or icmpv6)"]
    shown = subprocess.run(
        [*argv, "-T", "fields", *[a for f in fields for a in ("-e", f)]],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    seen: Counter[tuple[str, int, str, int]] = Counter()
    for line in shown.splitlines():
        outer, iid, icmp, icmpv6, data = line.split("\t")
        tenant = next((t for t, pattern in PATTERN.items() if pattern in data), 0)
        kind = "request" if (icmp or icmpv6) in ("8", "128") else "reply"
        seen[(outer.split(",")[0], int(iid), kind, tenant)] += 1
    # each packet seen on both RLOC links, 3 of each family; tenant 100: requests from
    # the PITR, replies to the PETR; tenant 200: requests to the PETR, replies from the PITR
    assert seen == {
        ("10.0.3.3", 100, "request", 100): 12,
        ("10.0.1.1", 100, "reply", 100): 12,
        ("10.0.1.1", 200, "request", 200): 12,
        ("10.0.3.3", 200, "reply", 200): 12,
        ("10.0.1.1", 300, "request", 0): 2,  # SEND_IID_300's, as sent
    }
