"""What a stop does not wait for: no sleep in the daemon, no interpreter teardown."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from lispstack.cli import run_cmd
from lispstack.cli.main import main
from lispstack.config import load_config
from lispstack.core.events import Endpoint
from lispstack.io.daemon import NodeDaemon

CONFIG = """[node]
name = "stopping"
roles = ["map-server", "map-resolver"]
control-socket = "{directory}/stopping.sock"

[[sites]]
name = "site-a"
auth-key = "secret"
eid-prefixes = ["192.168.1.0/24"]
"""


class _Exited(BaseException):  # like SystemExit: past `except Exception`
    pass


def _config(directory: Path) -> Path:
    path = directory / "stopping.toml"
    path.write_text(CONFIG.format(directory=directory))
    return path


def test_the_daemon_stops_without_sleeping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(_config(tmp_path))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))  # an ephemeral port: no other test's
    sock.setblocking(False)
    daemon = NodeDaemon(config, sockets=[(sock, Endpoint(IPv4Address("127.0.0.1"), 4342))])

    async def forbidden(delay: float, result: object = None) -> object:
        raise AssertionError(f"asyncio.sleep({delay}) on the way out")

    async def scenario() -> None:
        asyncio.get_running_loop().call_soon(daemon.stop)
        monkeypatch.setattr(asyncio, "sleep", forbidden)
        await daemon.run()

    asyncio.run(scenario())
    assert sock.fileno() == -1  # closed
    assert not (tmp_path / "stopping.sock").exists()


def test_run_exits_at_once_once_the_node_has_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    happened: list[str] = []

    def exit_now(code: int) -> None:
        raise _Exited(code)

    monkeypatch.setattr(run_cmd, "run_daemon", lambda config, reread: happened.append(config.name))
    monkeypatch.setattr(run_cmd.logging, "shutdown", lambda: happened.append("logs flushed"))
    monkeypatch.setattr(run_cmd.logging, "basicConfig", lambda **options: None)
    monkeypatch.setattr(run_cmd.os, "_exit", exit_now)
    with pytest.raises(_Exited) as exited:
        main(["run", str(_config(tmp_path))])
    assert exited.value.args == (0,) and happened == ["stopping", "logs flushed"]
