"""A real node under a (test-owned) $NOTIFY_SOCKET: READY=1 once it serves, STOPPING=1
when SIGTERM stops it; with workers only the main process speaks."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from nodes import free_loopback, start_node

from lispstack.io.control_socket import listening


@pytest.mark.parametrize("workers", [1, 2])
def test_ready_then_stopping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(tmp_path / "notify"))
        systemd.settimeout(20)
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        node = start_node(
            tmp_path,
            "ms",
            f'roles = ["map-server"]\nlisten = ["{free_loopback(61)}"]\nworkers = {workers}\n'
            '[[sites]]\nname = "a"\nauth-key = "k"\neid-prefixes = ["192.168.1.0/24"]\n',
        )
        try:
            ready = systemd.recv(4096).decode().split("\n")
            assert ready == ["READY=1", "STATUS=node ms serving: roles map-server"]
            assert listening(node.socket)  # READY came once the node serves
            assert isinstance(node.show("statistics"), dict)
        finally:
            assert node.stop() == 0
        assert systemd.recv(4096).decode().split("\n")[0] == "STOPPING=1"
        systemd.settimeout(0.5)
        with pytest.raises(TimeoutError):  # nothing more: the other worker stays silent
            systemd.recv(4096)
