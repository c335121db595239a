"""IPv6 EIDs over IPv4 RLOCs in the seed topology: IPv6 inner packets, IPv4 outer.

Runs with both data-plane engines; with eBPF the kernel must carry the packets
after the first of each flow (the miss). The same flows also go through both
engines in one lab, captured on the RLOC link: the outer headers must match.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest

from helpers.tshark import check_pcap
from lispstack.capture import read_capture
from lispstack.capture.frames import UdpDatagram

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
SEED = Path(__file__).parents[2] / "src" / "lispstack" / "lab" / "topologies"
LAB = "six"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=120, check=False
    )


def _show(node: str, topic: str) -> Any:
    return json.loads(_run("lab", "show", "--name", LAB, node, topic, "--json").stdout)


def _with_ipv6(config: str, site: int) -> str:
    ipv4 = f'eid-prefix = "192.168.{site}.0/24"'
    rlocs = f'rlocs = [{{ address = "10.0.{site}.{site}", priority = 1, weight = 100 }}]'
    return config.replace(
        f"{ipv4}\n{rlocs}",
        f'{ipv4}\n{rlocs}\n\n[[database-mappings]]\neid-prefix = "fd00:{site}::/64"\n{rlocs}',
    )


def _write_lab(directory: Path) -> Path:
    """The seed topology with an IPv6 EID prefix at each site; its topology file."""
    for site in (1, 2):
        config = (SEED / "seed" / f"lisp{site}.toml").read_text()
        (directory / f"lisp{site}.toml").write_text(_with_ipv6(config, site))
    mapserver = (SEED / "seed" / "mapserver.toml").read_text()
    for site in (1, 2):
        mapserver = mapserver.replace(
            f'["192.168.{site}.0/24"]', f'["192.168.{site}.0/24", "fd00:{site}::/64"]'
        )
    (directory / "mapserver.toml").write_text(mapserver)
    topology = (SEED / "seed.toml").read_text().replace('name = "seed"', f'name = "{LAB}"')
    topology = topology.replace('config = "seed/', 'config = "')
    for site in (1, 2):
        topology = topology.replace(
            f'addresses = ["lo 192.168.{site}.1/32"]',
            f'addresses = ["lo 192.168.{site}.1/32", "lo fd00:{site}::1/128"]',
        )
    (directory / f"{LAB}.toml").write_text(topology)
    return directory / f"{LAB}.toml"


@pytest.fixture(params=["tun", "ebpf"])
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The lab with both xTRs on one data-plane engine (parametrised); yields the engine."""
    up = _run("lab", "up", str(_write_lab(tmp_path)), "--engine", request.param)
    assert up.returncode == 0, up.stderr
    try:
        yield request.param
    finally:
        _run("lab", "down", "--name", LAB)


def test_ipv6_eids_over_ipv4_rlocs(lab: str) -> None:
    ping = _run(
        "lab", "exec", "--name", LAB, "lisp1", "--",
        "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "-I", "fd00:1::1", "fd00:2::1",
    )  # fmt: skip
    assert ping.returncode == 0, ping.stdout
    assert "3 received" in ping.stdout  # the first packet of the flow was not lost
    (entry,) = [e for e in _show("lisp1", "map-cache") if e["eid"] == "fd00:2::/64"]
    assert entry["rlocs"][0]["address"] == "10.0.2.2"
    statistics = _show("lisp2", "statistics")
    assert statistics["decap.packets"] >= 3
    if lab == "ebpf":  # after the first request (a miss: the TUN path), the kernel both ways
        assert _show("lisp1", "statistics")["ebpf.encap.packets"] >= 2
        assert statistics["ebpf.decap.packets"] >= 2


FLOWS = (("192.168.1.1", "192.168.2.1", 5001), ("fd00:1::1", "fd00:2::1", 5002))
"""UDP flows from lisp1's EIDs (source port fixed: the same flow hash in both runs)."""
SEND = """
import socket, sys, time
for src, dst, port in {flows!r}:
    family = socket.AF_INET6 if ":" in src else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((src, port))
        for n in range(4):
            s.sendto(b"same flow %d" % n, (dst, 7000))
            time.sleep(0.15)
"""


def _send_flows() -> None:
    sent = _run("lab", "exec", "--name", LAB, "lisp1", "--", sys.executable, "-c",
                SEND.format(flows=FLOWS))  # fmt: skip
    assert sent.returncode == 0, sent.stderr


def _outer(datagram: UdpDatagram) -> tuple[bytes, bytes, bytes, bytes]:
    """An encapsulated packet's outer IPv4 header, UDP header, LISP header without its
    nonce, and the inner packet's addresses (which flow it carries)."""
    packet, lisp = datagram.ip_packet, datagram.payload
    inner = lisp[8:]
    addresses = inner[12:20] if inner[0] >> 4 == 4 else inner[8:40]
    return packet[:20], packet[20:28], lisp[:1] + lisp[4:8], addresses


def test_the_same_flows_through_both_engines(tmp_path: Path) -> None:
    """IPv4 and IPv6 EIDs, first on the TUN engine, then (both xTRs restarted) on eBPF.

    The outer headers of the last packet of each flow, from lisp1 to lisp2, are
    equal byte for byte but for the 24-bit nonce: IPv4 header (identification 0 and
    DF on both planes, so the same header checksum), UDP header (the source port
    from the same flow hash, checksum 0), LISP flags, instance-id and
    locator-status-bits. tshark finds nothing wrong with any frame.
    """
    capture = tmp_path / "both.pcapng"
    topology = _write_lab(tmp_path)
    up = _run("lab", "up", str(topology), "--engine", "tun", "--capture", str(capture))
    assert up.returncode == 0, up.stderr
    try:
        _send_flows()
        switched = time.time()
        for site in (1, 2):
            config = tmp_path / f"lisp{site}-ebpf.toml"
            text = (tmp_path / f"lisp{site}.toml").read_text()
            config.write_text(text + '\n[data-plane]\nengine = "ebpf"\n')
            restarted = _run(
                "lab", "restart", "--name", LAB, f"lisp{site}", "--config", str(config)
            )
            assert restarted.returncode == 0 and "NOT" not in restarted.stdout, restarted.stdout
        _send_flows()
        assert _show("lisp1", "statistics")["ebpf.encap.packets"] >= 4  # 3 + 3 minus misses
    finally:
        _run("lab", "down", "--name", LAB)

    sent = [
        d for d in read_capture(capture).datagrams
        if d.interface == "to-lisp1" and d.dport == 4341 and str(d.src) == "10.0.1.1"
    ]  # fmt: skip
    for src, dst, _ in FLOWS:
        flow = [d for d in sent if _outer(d)[3] == _addresses(src, dst)]
        tun = [_outer(d) for d in flow if d.timestamp < switched]
        ebpf = [_outer(d) for d in flow if d.timestamp > switched]
        assert len(tun) == 4 and len(ebpf) == 4, (src, len(tun), len(ebpf))
        assert tun[-1] == ebpf[-1]
    # Checksums checked in the data packets both planes build (the control messages'
    # are left to the veth's checksum offload, unfilled in a capture).
    data = [f for f in check_pcap(capture, check_checksums=True) if "lisp-data" in f.protocols]
    assert len(data) >= 16
    control = [f for f in check_pcap(capture) if "lisp" in f.protocols]
    for frame in data + control:
        assert frame.clean, frame.problems()


def _addresses(src: str, dst: str) -> bytes:
    return ip_address(src).packed + ip_address(dst).packed
