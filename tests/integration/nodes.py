"""Real `lispstack run` processes on loopback addresses, for integration tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LISPSTACK = str(Path(sys.executable).parent / "lispstack")


@dataclass
class RunningNode:
    name: str
    config: Path
    socket: Path
    log: Path
    process: subprocess.Popen[bytes]

    def show(self, topic: str, arg: str | None = None) -> Any:
        command = [LISPSTACK, "show", "--socket", str(self.socket), topic, "--json"]
        if arg:
            command.insert(-1, arg)
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
        return json.loads(result.stdout)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)


def start_node(directory: Path, name: str, body: str) -> RunningNode:
    """Write a config (with a control socket in `directory`) and start the node."""
    socket_path = directory / f"{name}.sock"
    config = directory / f"{name}.toml"
    header = f'[node]\nname = "{name}"\ncontrol-socket = "{socket_path}"\n'
    config.write_text(header + body)
    log = directory / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([LISPSTACK, "run", str(config)], stdout=out, stderr=out)
    node = RunningNode(name, config, socket_path, log, process)
    deadline = time.monotonic() + 20
    while not socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            node.stop()
            raise RuntimeError(f"{name} did not start: {log.read_text()}")
        time.sleep(0.05)
    return node


def perf(address: str, *options: str, during: Callable[[], None] | None = None) -> dict[str, Any]:
    """One second (else --duration) of `lispstack perf map-resolver` against `address`:
    its JSON summary, checked to have replies and to account for every request sent.
    `during` is called while it runs."""
    command = [LISPSTACK, "perf", "map-resolver", address, "--window", "8"]
    if "--duration" not in options:
        command += ["--duration", "1"]
    with subprocess.Popen(
        [*command, *options, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        if during is not None:
            during()
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    summary: dict[str, Any] = json.loads(stdout)
    assert summary["received"] > 0
    assert summary["received"] + summary["lost"] == summary["sent"]
    return summary


def wait_for(predicate: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def free_loopback(index: int) -> str:
    """A loopback address unlikely to be used by another test run: 127.x.y.z by pid."""
    pid = os.getpid()
    return f"127.{100 + pid % 100}.{(pid // 100) % 250}.{index}"
