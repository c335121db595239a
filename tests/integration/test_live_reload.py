"""Live reload of a real `lispstack run`: `lispstack reload` and SIGHUP, under Map-Request
load, and with several workers."""

from __future__ import annotations

import contextlib
import itertools
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from nodes import LISPSTACK, RunningNode, free_loopback, perf, start_node, wait_for

from helpers.mapping_messages import record, register
from lispstack.wire import MapNotify, decode_control

MS = free_loopback(40)
ETR = free_loopback(41)
SITE_B = """
[[sites]]
name = "site-b"
auth-key = "site-b-secret"
eid-prefixes = ["192.168.2.0/24"]
"""
SITE_C = """
[[sites]]
name = "site-c"
auth-key = "site-c-secret"
eid-prefixes = ["192.168.3.0/24"]
"""


def _config(workers: int = 1) -> str:
    return (
        f'roles = ["map-server", "map-resolver"]\nlisten = ["{MS}"]\nworkers = {workers}\n' + SITE_B
    )


@pytest.fixture
def node(tmp_path: Path) -> Iterator[RunningNode]:
    running = start_node(tmp_path, "reloading", _config())
    yield running
    running.stop()


def _reload(node: RunningNode) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, "reload", "--socket", str(node.socket)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _edit(node: RunningNode, old: str, new: str) -> None:
    text = node.config.read_text()
    assert old in text
    node.config.write_text(text.replace(old, new))


def _registers(prefix: str, key: bytes, nonce: int) -> bool:
    """Whether the Map-Server answers a Map-Register of `prefix` with a Map-Notify."""
    return _registers_from(prefix, key, nonce, [0])[0]


def _registers_from(prefix: str, key: bytes, first_nonce: int, ports: Sequence[int]) -> list[bool]:
    """For each source port, whether the Map-Server answers a Map-Register of `prefix`
    (nonces from `first_nonce` on) with a Map-Notify: all sent at once, then answers
    awaited for one second in all."""
    with contextlib.ExitStack() as stack, selectors.DefaultSelector() as selector:
        waiting: dict[socket.socket, int] = {}
        for nonce, port in enumerate(ports, first_nonce):
            etr = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            etr.bind((ETR, port))
            message = register([record(prefix, 24, IPv4Address(ETR))], key, nonce=nonce, proxy=True)
            etr.sendto(message, (MS, 4342))
            selector.register(etr, selectors.EVENT_READ)
            waiting[etr] = nonce
        answered: set[int] = set()
        deadline = time.monotonic() + 1.0
        while len(answered) < len(waiting) and (left := deadline - time.monotonic()) > 0:
            for key_, _ in selector.select(left):
                etr = key_.fileobj
                assert isinstance(etr, socket.socket)
                answer = decode_control(etr.recv(65535))
                if isinstance(answer, MapNotify) and answer.nonce == waiting[etr]:
                    answered.add(answer.nonce)
                selector.unregister(etr)
    return [nonce in answered for nonce in waiting.values()]


def _registered(node: RunningNode) -> list[str]:
    return sorted(f"{entry['site']} {entry['eid']}" for entry in node.show("registrations"))


def test_reload_by_command_and_by_sighup(node: RunningNode) -> None:
    assert _registers("192.168.2.0", b"site-b-secret", nonce=1)
    assert not _registers("192.168.3.0", b"site-c-secret", nonce=2)
    # lispstack reload: a site added, the registration of the other kept.
    node.config.write_text(node.config.read_text() + SITE_C)
    reloaded = _reload(node)
    assert (reloaded.returncode, reloaded.stdout) == (
        0,
        "reloaded: 1 change\n  site site-c added\n",
    )
    assert _registers("192.168.3.0", b"site-c-secret", nonce=3)
    assert _registered(node) == ["site-b 192.168.2.0/24", "site-c 192.168.3.0/24"]
    assert 'name = "site-c"' in node.show("config")  # the running configuration
    # A broken file: refused in one line, and the node goes on as it was.
    _edit(node, "[[sites]]", "[[sites]")
    refused = _reload(node)
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"lispstack reload: reload refused: {node.config}: invalid")
    assert refused.stderr.count("\n") == 1
    assert _registered(node) == ["site-b 192.168.2.0/24", "site-c 192.168.3.0/24"]
    # A change a running node cannot make: named, refused.
    _edit(node, "[[sites]", "[[sites]]")
    _edit(node, "workers = 1", "workers = 2")
    refused = _reload(node)
    assert "node.workers cannot change while the node runs" in refused.stderr
    _edit(node, "workers = 2", "workers = 1")
    # SIGHUP: site-c removed, its registration with it.
    _edit(node, SITE_C, "")
    node.process.send_signal(signal.SIGHUP)
    assert wait_for(lambda: _registered(node) == ["site-b 192.168.2.0/24"])
    assert node.process.poll() is None
    assert not _registers("192.168.3.0", b"site-c-secret", nonce=4)
    assert "reloaded" in node.log.read_text()


def test_a_reload_under_map_request_load_loses_no_answer(node: RunningNode) -> None:
    assert _registers("192.168.2.0", b"site-b-secret", nonce=1)

    def reload_repeatedly() -> None:
        for turn in range(6):
            time.sleep(0.25)
            text = node.config.read_text()
            node.config.write_text(text + SITE_C if turn % 2 == 0 else text.replace(SITE_C, ""))
            assert _reload(node).returncode == 0

    summary = perf(MS, "--eids", "192.168.2.0/24", "--duration", "2", during=reload_repeatedly)
    statistics = node.show("statistics")
    # Every request reached the node and was answered...
    assert statistics["in.ecm"] == statistics["out.map-reply"] == summary["sent"]
    # ... and perf had each answer but those in flight when it stopped (at most its window).
    assert summary["sent"] - summary["received"] == summary["lost"] <= 8
    assert not [name for name in statistics if name.startswith("drop.")]
    assert _registered(node) == ["site-b 192.168.2.0/24"]


def test_every_worker_takes_the_reload(tmp_path: Path) -> None:
    node = start_node(tmp_path, "reloading-workers", _config(workers=2))
    nonces = itertools.count(1, 16)
    ports = range(40000, 40016)  # from many source ports: the kernel spreads them over both

    def all_register() -> list[bool]:
        return _registers_from("192.168.3.0", b"site-c-secret", next(nonces), ports)

    try:
        assert not any(all_register())
        node.config.write_text(node.config.read_text() + SITE_C)
        assert _reload(node).returncode == 0
        # Worker 0 has applied it when `reload` returns; the other, soon after (SIGHUP).
        assert wait_for(lambda: all(all_register()))
        node.config.write_text(node.config.read_text().replace(SITE_C, ""))
        assert _reload(node).returncode == 0
        assert wait_for(lambda: not any(all_register()))
        assert node.process.poll() is None
    finally:
        node.stop()
