"""The built-in ddt lab: sites reach each other through a DDT Map-Resolver walking referrals."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=180, check=False
    )


def _show(node: str, topic: str) -> Any:
    return json.loads(_run("lab", "show", "--name", "ddt", node, topic, "--json").stdout)


@pytest.fixture
def lab() -> Iterator[None]:
    up = _run("lab", "up", "ddt")
    try:
        assert up.returncode == 0, up.stderr
        yield
    finally:
        _run("lab", "down", "--name", "ddt")


def _ping_until_answered(node: str, source: str, destination: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ping = _run(
            "lab", "exec", "--name", "ddt", node, "--",
            "ping", "-c", "1", "-W", "1", "-I", source, destination,
        )  # fmt: skip
        if ping.returncode == 0:
            return True
    return False


def test_sites_on_two_map_servers_reach_each_other_through_ddt(lab: None) -> None:
    assert _ping_until_answered("site1", "192.168.1.1", "192.168.4.1", 40)
    assert _ping_until_answered("site3", "192.168.4.1", "192.168.2.1", 20)
    statistics = _show("mr", "statistics")
    assert statistics["ddt.ms-ack"] >= 2
    cached = {(r["eid"], r["action"]) for r in _show("mr", "referral-cache")}
    assert {
        ("192.168.0.0/22", "node-referral"),
        ("192.168.4.0/22", "node-referral"),
        ("192.168.4.0/24", "ms-referral"),
        ("192.168.2.0/24", "ms-referral"),
    } <= cached


def test_a_dead_map_server_is_survived(lab: None) -> None:
    # Learn the referral set of 192.168.4.0/24 (ms2 first, then ms1), then cut ms2 off.
    assert _ping_until_answered("site1", "192.168.1.1", "192.168.4.1", 40)
    cut = _run("lab", "exec", "--name", "ddt", "mr", "--", "ip", "link", "set", "to-ms2", "down")
    assert cut.returncode == 0, cut.stderr
    # site2 has no mapping for site3 yet: its request walks to ms2, times out, gets ms1.
    assert _ping_until_answered("site2", "192.168.2.1", "192.168.4.1", 30)
    assert _show("mr", "statistics")["ddt.timeout"] >= 1
