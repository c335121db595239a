"""At log level info, floods and per-message events leave a handful of lines, not one each."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nodes import LISPSTACK, RunningNode, free_loopback, start_node, wait_for

MS = free_loopback(22)
ETR = free_loopback(23)
JUNK = 10_000
MAP_SERVER = f"""roles = ["map-server", "map-resolver"]
listen = ["{MS}"]
log-level = "info"

[[sites]]
name = "site-b"
auth-key = "site-b-secret"
eid-prefixes = ["192.168.2.0/24"]
"""
ETR_CONFIG = f"""roles = ["etr"]
listen = ["{ETR}"]
log-level = "info"

[[database-mappings]]
eid-prefix = "192.168.2.0/24"
rlocs = [{{ address = "{ETR}", priority = 1, weight = 100 }}]

[[map-servers]]
address = "{MS}"
auth-key = "site-b-secret"

[tun]
device = "ls-log-{os.getpid() % 100000}"
"""


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[RunningNode, RunningNode]]:
    map_server = start_node(tmp_path, "ms", MAP_SERVER)
    try:
        etr = start_node(tmp_path, "etr", ETR_CONFIG)
        try:
            yield map_server, etr
        finally:
            etr.stop()
    finally:
        map_server.stop()
        shutil.rmtree(tmp_path, ignore_errors=True)


def _flood(destinations: list[tuple[str, int]]) -> None:
    """JUNK datagrams, each from its own loopback address, paced for the socket buffers."""
    for sent in range(JUNK):
        if sent % 200 == 0:
            time.sleep(0.01)
        junk = bytes([0xF0 | sent % 16]) + sent.to_bytes(4, "big") * 3
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.bind((f"127.{200 + sent // 62500}.{sent // 250 % 250}.{1 + sent % 250}", 0))
            sender.sendto(junk, destinations[sent % len(destinations)])


def _drops(node: RunningNode) -> int:
    statistics = node.show("statistics")
    return sum(value for name, value in statistics.items() if name.startswith("drop."))


def test_junk_and_per_message_events_leave_a_handful_of_lines(
    nodes: tuple[RunningNode, RunningNode],
) -> None:
    map_server, etr = nodes
    assert wait_for(lambda: map_server.show("registrations") != [])
    assert wait_for(lambda: etr.show("database")[0]["registrations"][0]["state"] == "registered")
    before = {node.name: len(node.log.read_bytes()) for node in nodes}
    _flood([(MS, 4342), (ETR, 4342), (ETR, 4341)])
    for _ in range(20):  # each answered by the ETR: a Map-Reply per request
        subprocess.run(
            [LISPSTACK, "lig", "192.168.2.1", "--map-resolver", MS, "--timeout", "2"],
            capture_output=True,
            timeout=30,
            check=True,
        )
    assert wait_for(lambda: _drops(map_server) + _drops(etr) >= JUNK * 9 // 10), (
        map_server.show("statistics"),
        etr.show("statistics"),
    )
    written = {node.name: node.log.read_bytes()[before[node.name] :] for node in nodes}
    print({name: len(text) for name, text in written.items()}, "log bytes for", JUNK, "datagrams")
    for name, text in written.items():
        assert len(text.splitlines()) <= 5, (name, text.decode()[:3000])
