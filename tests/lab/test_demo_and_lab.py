"""The demo end to end, and the lab's life cycle (root: namespaces, TUN devices)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lispstack.lab.runner import LAB_ROOT

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _namespaces() -> set[str]:
    listing = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=True
    ).stdout
    return {line.split()[0] for line in listing.splitlines() if line}


def test_demo_every_step_holds(tmp_path: Path) -> None:
    capture = tmp_path / "demo.pcapng"
    result = _run("demo", "--json", "--capture", str(capture))
    report = json.loads(result.stdout)
    failed = [
        (s["title"], c["check"]) for s in report["steps"] for c in s["checks"] if not c["passed"]
    ]
    assert result.returncode == 0 and report["passed"], failed
    assert [s["step"] for s in report["steps"]] == [1, 2, 3, 4, 5, 6]
    checks = {c["check"] for s in report["steps"] for c in s["checks"]}
    assert "lisp1 caches 0.0.0.0/1 natively-forward" in checks
    assert "Wireshark decodes every control and data frame cleanly" in checks
    assert capture.stat().st_size > 0
    assert not any(ns.startswith("seed-") for ns in _namespaces())
    assert not (LAB_ROOT / "seed").exists()


def test_lab_life_cycle(tmp_path: Path) -> None:
    topology = tmp_path / "mini.toml"
    configs = Path(__file__).parents[2] / "src" / "lispstack" / "lab" / "topologies" / "seed"
    topology.write_text(
        (configs.parent / "seed.toml")
        .read_text()
        .replace('name = "seed"', 'name = "mini"')
        .replace('config = "seed/', f'config = "{configs}/')
    )
    try:
        up = _run("lab", "up", str(topology))
        assert up.returncode == 0, up.stderr
        again = _run("lab", "up", str(topology))
        assert again.returncode == 1 and "already up" in again.stderr
        status = _run("lab", "status", "--name", "mini", "--json")
        assert {e["node"]: e["running"] for e in json.loads(status.stdout)} == {
            "lisp1": True,
            "mapserver": True,
            "lisp2": True,
        }
        ping = _run(
            "lab",
            "exec",
            "--name",
            "mini",
            "lisp1",
            "--",
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            "-I",
            "192.168.1.1",
            "192.168.2.1",
        )
        assert ping.returncode == 0, ping.stdout + ping.stderr
        failing = _run("lab", "exec", "--name", "mini", "lisp1", "--", "false")
        assert failing.returncode == 1
        shown = _run("lab", "show", "--name", "mini", "mapserver", "registrations", "--json")
        assert {r["eid"] for r in json.loads(shown.stdout)} == {"192.168.1.0/24", "192.168.2.0/24"}
    finally:
        assert _run("lab", "down", "--name", "mini").returncode == 0
    assert _run("lab", "down", "--name", "mini").returncode == 0  # idempotent
    assert not any(ns.startswith("mini-") for ns in _namespaces())
    assert not (LAB_ROOT / "mini").exists()


def test_bad_topology_is_reported(tmp_path: Path) -> None:
    topology = tmp_path / "bad.toml"
    topology.write_text('name = "bad"\n[[nodes]]\nname = "a"\nroutes = ["10.0.0.0/8 to x"]\n')
    result = _run("lab", "up", str(topology))
    assert result.returncode == 1
    assert "bad.toml" in result.stderr and "nodes[0]" in result.stderr


@pytest.mark.parametrize("command", [["demo"], ["lab", "up"]])
def test_non_root_is_told_what_is_needed(command: list[str]) -> None:
    result = subprocess.run(
        ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", LISPSTACK, *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "root" in result.stderr and "Traceback" not in result.stderr
