"""Three real `lispstack run` daemons on loopback addresses, in a network namespace of
their own, to watch an RLOC change reach an ITR (pub-sub, or SMR).

    ms      127.0.0.1  Map-Server + Map-Resolver, sites A and B
    lisp1   127.0.0.2  ITR + ETR, EID 192.168.1.0/24 (`[itr] subscribe` as asked)
    lisp2   127.0.0.3  ETR, EID 192.168.2.0/24; `move()` makes its RLOC 127.0.0.4

The namespace only holds the daemons' routes and rules and lets a ping from
192.168.1.1 (an address on its lo) enter lisp1's TUN; all traffic is on its
loopback. With `subscribe`, lisp2 registers with proxy-reply, so that it never
sees lisp1's Map-Requests and has nobody to send an SMR to: the change can only
reach lisp1 by publication; and lisp2 is restarted after the first ping, so
that it has not seen lisp1's traffic either (its deregistration and new
registration reach lisp1 as publications too). Without it, lisp2 answers the
Map-Request itself and sends lisp1 an SMR when its RLOC changes. Used by
tests/integration/test_pubsub_daemons.py and benchmarks/bench_convergence.py
(run under the shared lock).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LISPSTACK = str(Path(sys.executable).parent / "lispstack")
EID = "192.168.2.1"
OLD_RLOC, NEW_RLOC = "127.0.0.3", "127.0.0.4"

_MS = """roles = ["map-server", "map-resolver"]
listen = ["127.0.0.1"]
[[sites]]
name = "site-a"
auth-key = "site-a-secret"
eid-prefixes = ["192.168.1.0/24"]
[[sites]]
name = "site-b"
auth-key = "site-b-secret"
eid-prefixes = ["192.168.2.0/24"]
"""
_LISP1 = """roles = ["itr", "etr"]
listen = ["127.0.0.2"]
[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{ address = "127.0.0.2" }]
[[map-servers]]
address = "127.0.0.1"
auth-key = "site-a-secret"
[[map-resolvers]]
address = "127.0.0.1"
[itr]
subscribe = SUBSCRIBE
rloc-probe-interval = 0
[tun]
device = "lsconv1"
"""
_LISP2 = """roles = ["etr"]
listen = ["127.0.0.3", "127.0.0.4"]
[[database-mappings]]
eid-prefix = "192.168.2.0/24"
rlocs = [{ address = "RLOC" }]
[[map-servers]]
address = "127.0.0.1"
auth-key = "site-b-secret"
proxy-reply = PROXY
[tun]
device = "lsconv2"
"""


def control(path: Path, topic: str, arg: str | None = None) -> Any:
    """One request on a node's control socket (no CLI process: fast enough to poll)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(json.dumps({"topic": topic, "arg": arg}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    answer = json.loads(data)
    if not answer.get("ok"):
        raise RuntimeError(f"{topic}: {answer.get('error')}")
    return answer["result"]


@dataclass
class Rig:
    namespace: str
    directory: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def sock(self, name: str) -> Path:
        return self.directory / f"{name}.sock"

    def start(self, name: str, body: str) -> None:
        config = self.directory / f"{name}.toml"
        header = f'[node]\nname = "{name}"\ncontrol-socket = "{self.sock(name)}"\n'
        config.write_text(header + body)
        with (self.directory / f"{name}.log").open("wb") as log:
            command = ["ip", "netns", "exec", self.namespace, LISPSTACK, "run", str(config)]
            self.processes[name] = subprocess.Popen(command, stdout=log, stderr=log)
        if not wait_for(lambda: self.sock(name).exists(), 20):
            raise RuntimeError(f"{name} did not start: {self.log(name)}")

    def log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace")

    def show(self, name: str, topic: str, arg: str | None = None) -> Any:
        return control(self.sock(name), topic, arg)

    def cached_rlocs(self) -> list[str]:
        entries = self.show("lisp1", "map-cache", EID)
        return [str(r["address"]) for r in entries[0]["rlocs"]] if entries else []

    def ping(self) -> bool:
        command = ["ip", "netns", "exec", self.namespace, "ping", "-c", "1", "-W", "1"]
        result = subprocess.run(
            [*command, "-I", "192.168.1.1", EID], capture_output=True, check=False, timeout=10
        )
        return result.returncode == 0

    def move(self) -> float:
        """lisp2's RLOC becomes NEW_RLOC (config edited, reloaded); the time of the reload
        request (time.monotonic())."""
        config = self.directory / "lisp2.toml"
        config.write_text(config.read_text().replace(OLD_RLOC + '" }', NEW_RLOC + '" }'))
        started = time.monotonic()
        self.show("lisp2", "reload")
        return started

    def restart(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        body = (self.directory / f"{name}.toml").read_text().split("\n", 3)[3]
        self.start(name, body)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)


def wait_for(predicate: Any, timeout: float = 15.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, RuntimeError, IndexError, KeyError):
            if predicate():
                return True
        time.sleep(step)
    return False


def _ip(namespace: str, *args: str) -> None:
    subprocess.run(["ip", "netns", "exec", namespace, "ip", *args], check=True)


@contextlib.contextmanager
def convergence_rig(directory: Path, *, subscribe: bool) -> Iterator[Rig]:
    """The three daemons, registered, with lisp1 holding lisp2's mapping (OLD_RLOC)."""
    namespace = f"lsconv-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    rig = Rig(namespace, directory)
    try:
        _ip(namespace, "link", "set", "lo", "up")
        _ip(namespace, "addr", "add", "192.168.1.1/32", "dev", "lo")
        for address in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            _ip(namespace, "addr", "add", f"{address}/8", "dev", "lo")
        rig.start("ms", _MS)
        lisp2 = _LISP2.replace("RLOC", OLD_RLOC).replace("PROXY", str(subscribe).lower())
        rig.start("lisp2", lisp2)
        rig.start("lisp1", _LISP1.replace("SUBSCRIBE", str(subscribe).lower()))
        if not wait_for(lambda: len(rig.show("ms", "registrations")) == 2):
            raise RuntimeError(f"not registered: {rig.log('ms')}")
        rig.ping()  # the first packet asks; the mapping comes back
        if not wait_for(lambda: rig.cached_rlocs() == [OLD_RLOC]):
            raise RuntimeError(f"no mapping cached: {rig.log('lisp1')}")
        if subscribe:
            rig.restart("lisp2")
            if not wait_for(lambda: rig.cached_rlocs() == [OLD_RLOC]):
                raise RuntimeError(f"not published again: {rig.log('lisp1')}")
        yield rig
    finally:
        rig.stop()
        subprocess.run(["ip", "netns", "delete", namespace], check=False)
