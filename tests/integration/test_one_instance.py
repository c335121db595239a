"""One process per node: a second `lispstack run` of a running node's config, or of
another config with the same node name in the same network namespace, is refused,
naming the first; what a SIGKILLed node left behind does not block the next start."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from nodes import LISPSTACK, RunningNode, free_loopback, start_node, wait_for

from lispstack.io.control_socket import listening
from lispstack.io.instance_lock import name_lock_path
from lispstack.lab import netns

NAMESPACE = "ops-lock-test"


def _map_server(address: str, workers: int = 1) -> str:
    return (
        f'roles = ["map-server"]\nlisten = ["{address}"]\nworkers = {workers}\n'
        '[[sites]]\nname = "a"\nauth-key = "k"\neid-prefixes = ["192.168.1.0/24"]\n'
    )


def _second_start(node: RunningNode) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LISPSTACK, "run", str(node.config)], capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_a_second_start_is_refused_naming_the_first(tmp_path: Path, workers: int) -> None:
    first = start_node(tmp_path, "ms", _map_server(free_loopback(51), workers))
    try:
        second = _second_start(first)
        assert second.returncode == 2
        error = second.stderr.strip()
        assert len(error.splitlines()) == 1, error
        assert error == (
            f"lispstack: ms: cannot start: node ms (pid {first.process.pid}) is already running "
            f"on control socket {first.socket} (lock {first.socket}.lock)"
        )
        # the first is untouched: still serving its control socket and its port
        assert first.process.poll() is None
        assert isinstance(first.show("statistics"), dict)
        assert "cannot bind" not in (first.log.read_text())
    finally:
        assert first.stop() == 0
    assert not first.socket.exists()
    assert not Path(f"{first.socket}.lock").exists()
    assert not name_lock_path("ms").exists()


def _start_elsewhere(directory: Path, body: str, *command: str) -> subprocess.Popen[bytes]:
    """`lispstack run` of node ms with its config and control socket in `directory`."""
    directory.mkdir()
    config = directory / "ms.toml"
    socket = directory / "ms.sock"
    config.write_text(f'[node]\nname = "ms"\ncontrol-socket = "{socket}"\n{body}')
    return subprocess.Popen(
        [*command, LISPSTACK, "run", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_the_same_name_is_refused_in_one_network_namespace_only(tmp_path: Path) -> None:
    address = free_loopback(53)
    first = start_node(tmp_path, "ms", _map_server(address))
    netns.create(NAMESPACE)
    try:
        # another control socket, another address, the same name: refused
        second = _start_elsewhere(tmp_path / "second", _map_server(free_loopback(54)))
        _, stderr = second.communicate(timeout=30)
        assert second.returncode == 2
        error = stderr.decode().strip()
        assert error == (
            f"lispstack: ms: cannot start: node ms (pid {first.process.pid}) is already running "
            f"in this network namespace (lock {name_lock_path('ms')})"
        )
        assert not (tmp_path / "second" / "ms.sock.lock").exists()
        # the same name in another network namespace: runs
        netns.ip("link", "set", "lo", "up", namespace=NAMESPACE)
        command = ("ip", "netns", "exec", NAMESPACE)
        elsewhere = _start_elsewhere(tmp_path / "elsewhere", _map_server(address), *command)
        try:
            assert wait_for(lambda: listening(tmp_path / "elsewhere" / "ms.sock"))
            assert first.process.poll() is None
        finally:
            elsewhere.terminate()
            assert elsewhere.wait(timeout=20) == 0
    finally:
        netns.delete(NAMESPACE)
        assert first.stop() == 0


def test_what_a_killed_node_left_does_not_block_a_start(tmp_path: Path) -> None:
    body = _map_server(free_loopback(52))
    killed = start_node(tmp_path, "ms", body)
    os.kill(killed.process.pid, signal.SIGKILL)
    killed.process.wait(timeout=20)
    assert killed.socket.exists() and Path(f"{killed.socket}.lock").exists()
    assert name_lock_path("ms").read_text() == f"{killed.process.pid} ms\n"
    again = start_node(tmp_path, "ms", body)  # returns at once: the old socket file is there
    try:
        assert wait_for(lambda: listening(again.socket)), again.log.read_text()
        assert isinstance(again.show("statistics"), dict)
    finally:
        assert again.stop() == 0
