"""What the CLI says when nothing answers or a path cannot be used: real sockets on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nodes import free_loopback

from lispstack.cli.main import main


def test_perf_without_replies_says_so_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    silent = free_loopback(41)  # nothing listens there
    assert main(["perf", "map-resolver", silent, "--duration", "0.3"]) == 1
    captured = capsys.readouterr()
    assert "nan" not in captured.out + captured.err
    assert captured.out.startswith("sent ") and " received 0 " in captured.out
    assert "latency" not in captured.out
    error = captured.err.strip()
    assert error.startswith(f"lispstack perf: no Map-Reply came back from {silent} port 4342 ")
    assert "map-resolver" in error and "listen" in error and len(error.splitlines()) == 1


def test_perf_json_without_replies_is_valid_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perf", "map-resolver", free_loopback(41), "--duration", "0.3", "--json"]) == 1
    captured = capsys.readouterr()
    summary = json.loads(captured.out)  # json.loads takes NaN, which is not JSON: hence null
    assert summary["received"] == 0 and summary["latency_ms"] is None
    assert captured.err.startswith("lispstack perf: no Map-Reply came back")


def test_an_unusable_control_socket_path_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ms.toml"
    config.write_text(
        f'[node]\nname = "ms"\nroles = ["map-server"]\nlisten = ["{free_loopback(42)}"]\n'
        '[[sites]]\nname = "a"\nauth-key = "k"\neid-prefixes = ["192.168.1.0/24"]\n'
    )
    socket = tmp_path / "no" / "such" / "ms.sock"
    (tmp_path / "no").write_text("a file where a directory should be")
    assert main(["run", str(config), "--control-socket", str(socket)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"lispstack: ms: cannot start: control socket {socket}: ")
    assert "--control-socket" in error and "control-socket in [node]" in error
    assert len(error.splitlines()) == 1
