"""Building, running and tearing down a lab: namespaces, links, nodes, captures.

Everything a lab makes lives under /run/lispstack/lab/NAME/: state.json,
every node's log (NODE.log) and control socket (NODE.sock), and the partial
captures. `down` removes all of it (the merged capture is written where the
user asked).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lispstack.config import load_config
from lispstack.io.control_socket import ControlError, ask
from lispstack.lab import netns
from lispstack.lab.topology import Topology

LAB_ROOT = Path("/run/lispstack/lab")
LISPSTACK = str(Path(sys.executable).parent / "lispstack")
CAPTURE_FILTER = "udp port 4341 or udp port 4342 or icmp or icmp6"


class LabError(RuntimeError):
    """What went wrong, for the user: which node, and where its log is."""


@dataclass
class Lab:
    name: str

    @property
    def directory(self) -> Path:
        return LAB_ROOT / self.name

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"

    def namespace(self, node: str) -> str:
        return f"{self.name}-{node}"

    def socket(self, node: str) -> Path:
        return self.directory / f"{node}.sock"

    def log(self, node: str) -> Path:
        return self.directory / f"{node}.log"

    def state(self) -> dict[str, Any] | None:
        try:
            state: dict[str, Any] = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return state

    def _save(self, state: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(state, indent=2))

    # ------------------------------------------------------------ up

    def up(self, topology: Topology, capture: Path | None) -> None:
        if self.state() is not None:
            raise LabError(
                f"lab '{self.name}' is already up (lispstack lab down --name {self.name} first)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {
            "topology": topology.source,
            "nodes": {},
            "captures": [],
            "capture": str(capture) if capture else None,
        }
        self._save(state)
        try:
            self._build(topology)
            if capture is not None:
                state["captures"] = self._start_captures(topology)
                self._save(state)
            for node in topology.nodes:
                if node.config is not None:
                    state["nodes"][node.name] = self._start_node(node.name, node.config)
                    self._save(state)
            self._wait_for_registrations(topology)
        except Exception:
            self.down()
            raise

    def _build(self, topology: Topology) -> None:
        for node in topology.nodes:
            netns.create(self.namespace(node.name))
        for link in topology.links:
            netns.veth(
                self.namespace(link.a.node),
                link.a.interface,
                link.a.cidr,
                self.namespace(link.b.node),
                link.b.interface,
                link.b.cidr,
            )
        for node in topology.nodes:
            namespace = self.namespace(node.name)
            for interface, cidr in node.addresses:
                netns.add_address(namespace, interface, cidr)
            for prefix, hop in node.routes:
                netns.add_route(namespace, prefix, hop)
            if node.forwarding:
                netns.sysctl(namespace, "net.ipv4.ip_forward", "1")
                netns.sysctl(namespace, "net.ipv6.conf.all.forwarding", "1")

    def _start_captures(self, topology: Topology) -> list[dict[str, Any]]:
        by_namespace: dict[str, list[str]] = {}
        for link in topology.links:
            if link.capture:
                by_namespace.setdefault(self.namespace(link.b.node), []).append(link.b.interface)
        captures: list[dict[str, Any]] = []
        for namespace, interfaces in by_namespace.items():
            part = self.directory / f"capture-{namespace}.pcapng"
            argv = ["dumpcap", "-q", "-w", str(part)]
            for interface in interfaces:
                argv += ["-i", interface, "-f", CAPTURE_FILTER]
            process = netns.popen_in(namespace, argv, str(self.directory / "dumpcap.log"))
            captures.append({"pid": process.pid, "file": str(part)})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(Path(c["file"]).exists() for c in captures):
            time.sleep(0.1)
        time.sleep(0.5)  # dumpcap opens the file before its capture is live
        return captures

    def _start_node(self, node: str, config: Path) -> int:
        load_config(config)  # a bad config fails here, before anything runs
        process = netns.popen_in(
            self.namespace(node),
            [LISPSTACK, "run", str(config), "--control-socket", str(self.socket(node))],
            str(self.log(node)),
        )
        deadline = time.monotonic() + 15
        while not self.socket(node).exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise LabError(
                    f"node {node} did not start; its log: {self.log(node)}\n" + self.tail(node)
                )
            time.sleep(0.05)
        return process.pid

    def _wait_for_registrations(self, topology: Topology, timeout: float = 30.0) -> None:
        waiting = [
            n.name
            for n in topology.nodes
            if n.config is not None and "etr" in load_config(n.config).roles
        ]
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            waiting = [n for n in waiting if not self.registered(n)]
            time.sleep(0.2)
        if waiting:
            node = waiting[0]
            raise LabError(
                f"node {node} is not registered with its Map-Servers after {timeout:.0f} s; "
                f"its log: {self.log(node)}\n" + self.tail(node)
            )

    def registered(self, node: str) -> bool:
        try:
            database = ask(self.socket(node), "database", None)
        except ControlError:
            return False
        return isinstance(database, list) and all(
            session.get("state") == "registered"
            for entry in database
            for session in entry.get("registrations", [])
        )

    def restart_node(self, node: str, config: Path) -> None:
        """Stop one node and start it again, possibly with another configuration."""
        state = self.state()
        if state is None or node not in state["nodes"]:
            raise LabError(f"lab '{self.name}' has no running node {node}")
        _terminate(state["nodes"][node])
        state["nodes"][node] = self._start_node(node, config)
        self._save(state)

    def stop_captures(self) -> Path | None:
        """Stop recording and merge the parts into the capture file the lab was asked for."""
        state = self.state()
        if state is None or not state["captures"]:
            return None
        for capture in state["captures"]:
            _terminate(capture["pid"])
        parts = [c["file"] for c in state["captures"] if Path(c["file"]).exists()]
        state["captures"] = []
        self._save(state)
        if not state.get("capture") or not parts:
            return None
        merged = Path(state["capture"])
        merged.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mergecap", "-F", "pcapng", "-w", str(merged), *parts],
            capture_output=True,
            check=False,
            timeout=60,
        )
        return merged if merged.exists() else None

    # ------------------------------------------------------------ status and down

    def status(self) -> list[dict[str, Any]]:
        state = self.state()
        if state is None:
            return []
        out = []
        for node, pid in state["nodes"].items():
            running = _alive(pid)
            entry: dict[str, Any] = {
                "node": node,
                "pid": pid,
                "running": running,
                "namespace": self.namespace(node),
                "log": str(self.log(node)),
            }
            if not running:
                entry["log_tail"] = self.tail(node)
            out.append(entry)
        return out

    def down(self) -> Path | None:
        """Stop and remove everything; returns the merged capture's path, if one was asked."""
        merged = self.stop_captures()
        state = self.state() or {"nodes": {}}
        for pid in state["nodes"].values():
            _terminate(pid)
        for namespace in _lab_namespaces(self.name):
            netns.delete(namespace)
        shutil.rmtree(self.directory, ignore_errors=True)
        return merged

    def tail(self, node: str, lines: int = 15) -> str:
        try:
            return "\n".join(self.log(node).read_text().splitlines()[-lines:])
        except OSError:
            return ""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _terminate(pid: int, timeout: float = 15.0) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _lab_namespaces(name: str) -> list[str]:
    listing = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    return [
        line.split()[0]
        for line in listing.splitlines()
        if line and line.split()[0].startswith(f"{name}-")
    ]
