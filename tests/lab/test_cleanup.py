"""`lispstack cleanup` after an xTR was SIGKILLed: its rules, routes and control socket go."""

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
XTR = """[node]
name = "killed"
roles = ["itr"]
control-socket = "{directory}/killed.sock"

[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{{ address = "10.0.1.1", priority = 1, weight = 100 }}]

[[map-resolvers]]
address = "10.0.1.254"
"""


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"cl{os.getpid() % 10000}"
    netns.create(name)
    try:
        netns.add_address(name, "lo", "192.168.1.1/32")
        yield name
    finally:
        netns.delete(name)


def _start(namespace: str, config: Path) -> subprocess.Popen[bytes]:
    socket_path = config.with_suffix(".sock")
    process = netns.popen_in(namespace, [LISPSTACK, "run", str(config)], f"{config}.log")
    deadline = time.monotonic() + 20
    while not socket_path.exists():
        assert process.poll() is None and time.monotonic() < deadline, config.with_suffix(".log")
        time.sleep(0.05)
    return process


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def _cleanup(namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    return netns.run_in(namespace, [LISPSTACK, "cleanup", *args])


def _rules(namespace: str) -> list[str]:
    return [line for line in netns.ip("rule", namespace=namespace).splitlines() if "434" in line]


def test_cleanup_removes_what_a_killed_xtr_left_and_nothing_of_a_live_one(
    namespace: str, tmp_path: Path
) -> None:
    config = tmp_path / "killed.toml"
    config.write_text(XTR.format(directory=tmp_path))
    process = _start(namespace, config)
    try:
        # A throw route as the route thread would have made for a negative entry.
        netns.ip("route", "add", "throw", "10.9.0.0/16", "table", "4341", "proto", "250",
                 namespace=namespace)  # fmt: skip
        live = _cleanup(namespace, str(config))
        assert live.returncode == 1 and "node killed is running" in live.stderr, live
        refused = _cleanup(namespace, "--all")
        assert refused.returncode == 1 and "routes through table 4341" in refused.stderr
        assert len(_rules(namespace)) == 2
    finally:
        _kill(process)
    assert len(_rules(namespace)) == 2 and config.with_suffix(".sock").exists()  # left behind

    done = _cleanup(namespace, str(config))
    assert done.returncode == 0, done.stderr
    # the name lock of its network namespace (the inode of its /run/netns file)
    name_lock = f"/run/lispstack/names/net-{os.stat(f'/run/netns/{namespace}').st_ino}/killed.lock"
    assert done.stdout.splitlines() == [
        f"removed stale control socket {tmp_path}/killed.sock",
        f"removed stale lock {tmp_path}/killed.sock.lock",
        f"removed stale lock {name_lock}",
        "removed rule priority 4340 from 192.168.1.0/24 lookup 254",
        "removed rule priority 4341 from 192.168.1.0/24 lookup 4341",
        "removed route throw 10.9.0.0/16 table 4341",
    ]
    assert _rules(namespace) == []
    assert netns.ip("route", "show", "table", "4341", namespace=namespace) == ""
    assert not config.with_suffix(".sock").exists()
    assert not config.with_suffix(".sock.lock").exists()
    assert not Path(name_lock).parent.exists()
    assert _cleanup(namespace, str(config)).stdout == "nothing to remove\n"

    _kill(_start(namespace, config))
    everything = _cleanup(namespace, "--all")
    assert everything.returncode == 0 and "removed rule priority 4341" in everything.stdout
    assert _rules(namespace) == []


TENANT_XTR = """[node]
name = "killed"
roles = ["itr"]
control-socket = "{directory}/killed.sock"

[[database-mappings]]
eid-prefix = "[100]10.1.0.0/24"
rlocs = [{{ address = "10.0.1.1" }}]

[[instances]]
iid = 100
interfaces = ["t100"]
table = 100

[[map-resolvers]]
address = "10.0.1.254"
"""


def test_cleanup_removes_an_instances_rules_and_table(namespace: str, tmp_path: Path) -> None:
    # a veth pair: this kernel may have no dummy interfaces
    netns.ip(
        "link", "add", "t100", "type", "veth", "peer", "name", "t100-peer", namespace=namespace
    )
    for link in ("t100", "t100-peer"):
        netns.ip("link", "set", link, "up", namespace=namespace)
    netns.ip("address", "add", "10.1.0.1/24", "dev", "t100", namespace=namespace)
    config = tmp_path / "killed.toml"
    config.write_text(TENANT_XTR.format(directory=tmp_path))
    process = _start(namespace, config)
    try:
        rules = netns.ip("rule", namespace=namespace)
        assert "iif t100 lookup 100" in rules and "iif lisp-killed.100 lookup 100" in rules
        table = netns.ip("route", "show", "table", "100", namespace=namespace)
        assert "default dev lisp-killed.100" in table and "10.1.0.0/24 dev t100" in table
    finally:
        _kill(process)
    done = _cleanup(namespace, str(config))
    assert done.returncode == 0, done.stderr
    assert {
        "removed rule priority 4339 iif t100 lookup 100",
        "removed route 10.1.0.0/24 table 100",
    } <= set(done.stdout.splitlines())
    assert "lookup 100" not in netns.ip("rule", namespace=namespace)
    assert netns.ip("route", "show", "table", "100", namespace=namespace) == ""
