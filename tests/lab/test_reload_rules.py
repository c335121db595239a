"""A reload of an ITR in a namespace: the policy rules of its EID source prefixes follow
its database mappings, on both data-plane engines (the eBPF engine refills its maps on
reload too)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lispstack.lab import netns

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
ITR = """[node]
name = "reloaded"
roles = ["itr"]
control-socket = "{directory}/reloaded.sock"

[[map-resolvers]]
address = "10.0.1.254"

[data-plane]
engine = "{engine}"
"""
MAPPING = """
[[database-mappings]]
eid-prefix = "{prefix}"
rlocs = [{{ address = "10.0.1.1" }}]
"""


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"rl{os.getpid() % 10000}"
    netns.create(name)
    try:
        yield name
    finally:
        netns.delete(name)


def _rules(namespace: str) -> list[str]:
    lines = netns.ip("rule", namespace=namespace).splitlines()
    return sorted(" ".join(line.split()[1:]) for line in lines if "434" in line)


def _write(config: Path, engine: str, *prefixes: str) -> None:
    mappings = "".join(MAPPING.format(prefix=prefix) for prefix in prefixes)
    config.write_text(ITR.format(directory=config.parent, engine=engine) + mappings)


@pytest.mark.parametrize("engine", ["tun", "ebpf"])
def test_the_rules_of_the_eid_prefixes_follow_a_reload(
    namespace: str, tmp_path: Path, engine: str
) -> None:
    config = tmp_path / "reloaded.toml"
    _write(config, engine, "192.168.1.0/24")
    process = netns.popen_in(namespace, [LISPSTACK, "run", str(config)], f"{config}.log")
    try:
        deadline = time.monotonic() + 20
        while not config.with_suffix(".sock").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        assert _rules(namespace) == [
            "from 192.168.1.0/24 lookup 4341",
            "from 192.168.1.0/24 lookup main suppress_prefixlength 0",
        ]
        _write(config, engine, "192.168.11.0/24")
        reload = [LISPSTACK, "reload", "--socket", str(config.with_suffix(".sock"))]
        answer = subprocess.run(reload, capture_output=True, text=True, timeout=30, check=False)
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.splitlines()[1:] == [
            "  database-mapping 192.168.11.0/24 added",
            "  database-mapping 192.168.1.0/24 removed",
        ]
        expected = [
            "from 192.168.11.0/24 lookup 4341",
            "from 192.168.11.0/24 lookup main suppress_prefixlength 0",
        ]
        # the route thread applies the rules after the reload's answer: within moments
        deadline = time.monotonic() + 5
        while _rules(namespace) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _rules(namespace) == expected
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert _rules(namespace) == []
