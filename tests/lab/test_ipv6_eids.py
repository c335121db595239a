"""IPv6 EIDs over IPv4 RLOCs in the seed topology: IPv6 inner packets, IPv4 outer."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
SEED = Path(__file__).parents[2] / "src" / "lispstack" / "lab" / "topologies"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=120, check=False
    )


def _with_ipv6(config: str, site: int) -> str:
    ipv4 = f'eid-prefix = "192.168.{site}.0/24"'
    rlocs = f'rlocs = [{{ address = "10.0.{site}.{site}", priority = 1, weight = 100 }}]'
    return config.replace(
        f"{ipv4}\n{rlocs}",
        f'{ipv4}\n{rlocs}\n\n[[database-mappings]]\neid-prefix = "fd00:{site}::/64"\n{rlocs}',
    )


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    for site in (1, 2):
        config = (SEED / "seed" / f"lisp{site}.toml").read_text()
        (tmp_path / f"lisp{site}.toml").write_text(_with_ipv6(config, site))
    mapserver = (SEED / "seed" / "mapserver.toml").read_text()
    for site in (1, 2):
        mapserver = mapserver.replace(
            f'["192.168.{site}.0/24"]', f'["192.168.{site}.0/24", "fd00:{site}::/64"]'
        )
    (tmp_path / "mapserver.toml").write_text(mapserver)
    topology = (SEED / "seed.toml").read_text().replace('name = "seed"', 'name = "six"')
    topology = topology.replace('config = "seed/', 'config = "')
    for site in (1, 2):
        topology = topology.replace(
            f'addresses = ["lo 192.168.{site}.1/32"]',
            f'addresses = ["lo 192.168.{site}.1/32", "lo fd00:{site}::1/128"]',
        )
    (tmp_path / "six.toml").write_text(topology)
    up = _run("lab", "up", str(tmp_path / "six.toml"))
    assert up.returncode == 0, up.stderr
    try:
        yield "six"
    finally:
        _run("lab", "down", "--name", "six")


def test_ipv6_eids_over_ipv4_rlocs(lab: str) -> None:
    ping = _run(
        "lab",
        "exec",
        "--name",
        lab,
        "lisp1",
        "--",
        "ping",
        "-6",
        "-c",
        "2",
        "-W",
        "2",
        "-I",
        "fd00:1::1",
        "fd00:2::1",
    )
    assert ping.returncode == 0, ping.stdout
    assert "2 received" in ping.stdout  # the first packet of the flow was not lost
    cache = json.loads(_run("lab", "show", "--name", lab, "lisp1", "map-cache", "--json").stdout)
    (entry,) = [e for e in cache if e["eid"] == "fd00:2::/64"]
    assert entry["rlocs"][0]["address"] == "10.0.2.2"
    statistics = json.loads(
        _run("lab", "show", "--name", lab, "lisp2", "statistics", "--json").stdout
    )
    assert statistics["decap.packets"] >= 2
