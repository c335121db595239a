"""systemd readiness of an ETR: READY=1 comes after its first Map-Register has left.

Inside a namespace the test creates: the ETR (a real `lispstack run`) and a
stand-in Map-Server, a script that owns both the UDP socket the Map-Register
goes to and the $NOTIFY_SOCKET. On loopback a datagram is queued at the
receiver before sendto returns, so when READY=1 arrives the Map-Register must
already be waiting.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lispstack.lab import netns

pytestmark = pytest.mark.root
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
ETR = """[node]
name = "sd-etr"
roles = ["etr"]
listen = ["10.0.1.1"]
control-socket = "{directory}/sd-etr.sock"

[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{{ address = "10.0.1.1" }}]

[[map-servers]]
address = "10.0.1.254"
auth-key = "k"
"""
MAP_SERVER = """
import json, socket, sys
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("10.0.1.254", 4342))
notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.bind(sys.argv[1])
notify.settimeout(30)
print("bound", flush=True)
ready = notify.recv(4096).decode()
udp.setblocking(False)
try:
    register = udp.recv(4096)
except BlockingIOError:
    register = b""
print(json.dumps({"notify": ready, "register_type": register[0] >> 4 if register else None}))
"""


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"sd{os.getpid() % 10000}"
    netns.create(name)
    try:
        netns.add_address(name, "lo", "10.0.1.1/32")
        netns.add_address(name, "lo", "10.0.1.254/32")
        yield name
    finally:
        netns.delete(name)


def test_an_etr_is_ready_after_its_first_map_register(
    namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notify = tmp_path / "notify"
    server = subprocess.Popen(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", MAP_SERVER, str(notify)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdout.readline() == "bound\n"
    config = tmp_path / "sd-etr.toml"
    config.write_text(ETR.format(directory=tmp_path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify))
    etr = netns.popen_in(namespace, [LISPSTACK, "run", str(config)], f"{tmp_path}/etr.log")
    try:
        seen = json.loads(server.communicate(timeout=40)[0])
    finally:
        etr.send_signal(signal.SIGTERM)
        assert etr.wait(timeout=20) == 0, (tmp_path / "etr.log").read_text()
    assert seen["notify"].split("\n")[0] == "READY=1"
    assert seen["register_type"] == 3  # a Map-Register was already there
