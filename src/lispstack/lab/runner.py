"""A lab's life: up (network, capture, nodes, registrations), status, restart a node, down.

Files and names: see `lispstack.lab.state`. A node is `lispstack run CONFIG
--control-socket DIR/NODE.sock` inside the namespace NAME-NODE, its output
in DIR/NODE.log.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lispstack.config import render_config
from lispstack.config.model import NodeRole
from lispstack.io.control_socket import ControlError, ask
from lispstack.lab import capture, netns
from lispstack.lab.builder import build, namespaces_of
from lispstack.lab.processes import alive, in_namespace, terminate, terminate_in
from lispstack.lab.state import LAB_ROOT, LabError, LabFiles
from lispstack.lab.topology import Node, Topology

__all__ = ["LAB_ROOT", "Lab", "LabError", "lispstack_argv"]
REGISTRATION_TIMEOUT = 30.0


MAPPING_SYSTEM_ROLES = frozenset({NodeRole.MAP_SERVER, NodeRole.MAP_RESOLVER, NodeRole.DDT_NODE})


def _waves(topology: Topology) -> list[list[Node]]:
    """The lispstack nodes to start: the mapping system's, then the others."""
    nodes = [node for node in topology.nodes if node.config is not None]
    first = [n for n in nodes if n.config and MAPPING_SYSTEM_ROLES & set(n.config.roles)]
    return [first, [n for n in nodes if n not in first]]


def lispstack_argv() -> list[str]:
    """How to run this very lispstack (the venv's script, else the module)."""
    script = Path(sys.executable).parent / "lispstack"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "lispstack.cli.main"]


class Lab(LabFiles):
    """The lab called `name`; every method works from its state file, in any process."""

    # ------------------------------------------------------------ up

    def up(
        self, topology: Topology, capture_file: Path | None, timeout: float = REGISTRATION_TIMEOUT
    ) -> None:
        """Build, start, and return once every ETR is registered; on failure remove all
        but the node logs and raise a LabError naming the node and its log."""
        self.claim({"topology": topology.source, "nodes": {}, "hosts": [], "captures": []})
        leftovers = namespaces_of(self.name)
        if leftovers:
            self.state_file.unlink()
            raise LabError(
                f"namespaces of an earlier lab '{self.name}' are still there "
                f"({', '.join(leftovers)}): lispstack lab down --name {self.name}"
            )
        self.clear_old_logs()
        state: dict[str, Any] = {
            "topology": topology.source,
            "started": time.time(),
            "capture": str(capture_file) if capture_file else None,
            "captures": [],
            "hosts": [n.name for n in topology.nodes if n.config is None],
            "nodes": {},
        }
        self.save(state)
        try:
            build(self, topology)
            if capture_file is not None:
                state["captures"] = capture.start(self, topology)
                self.save(state)
            # The mapping system first, so that no first Map-Register is lost; each wave
            # started at once, then awaited.
            for wave in _waves(topology):
                started = {}
                for node in wave:
                    state["nodes"][node.name] = self._node_entry(topology, node)
                    config = Path(state["nodes"][node.name]["config"])
                    started[node.name] = self._spawn(node.name, config)
                    state["nodes"][node.name]["pid"] = started[node.name].pid
                    self.save(state)
                for name, process in started.items():
                    self._wait_started(name, process)
            self._wait_for_registrations(list(state["nodes"]), timeout)
        except BaseException:
            self._teardown(keep_logs=True)
            raise

    def _node_entry(self, topology: Topology, node: Node) -> dict[str, Any]:
        assert node.config is not None
        config = node.config_file
        if config is None:
            config = self.config(node.name)
            config.write_text(render_config(node.config))
        map_server_nodes = sorted(
            {
                owner
                for server in node.config.map_servers
                if (owner := topology.owner_of(str(server.address))) is not None
                and (peer := topology.node(owner).config) is not None
                and "map-server" in peer.roles
            }
        )
        return {
            "config": str(config),
            "pid": None,
            "etr": node.is_etr,
            "map_server_nodes": map_server_nodes,
        }

    def _start(self, node: str, config: Path) -> int:
        process = self._spawn(node, config)
        self._wait_started(node, process)
        return process.pid

    def _spawn(self, node: str, config: Path) -> subprocess.Popen[bytes]:
        self.socket(node).unlink(missing_ok=True)
        return netns.popen_in(
            self.namespace(node),
            [*lispstack_argv(), "run", str(config), "--control-socket", str(self.socket(node))],
            str(self.log(node)),
        )

    def _wait_started(self, node: str, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 15
        while not self.socket(node).exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise LabError(
                    f"node {node} did not start; its log: {self.log(node)}\n" + self.tail(node)
                )
            time.sleep(0.05)

    def _wait_for_registrations(self, nodes: list[str], timeout: float) -> None:
        state = self.state() or {"nodes": {}}
        waiting = [n for n in nodes if state["nodes"][n]["etr"]]
        deadline = time.monotonic() + timeout
        while waiting:
            for node in nodes:
                if not alive(state["nodes"][node]["pid"]):
                    raise LabError(
                        f"node {node} stopped; its log: {self.log(node)}\n" + self.tail(node)
                    )
            waiting = [n for n in waiting if not self.registered(n)]
            if waiting and time.monotonic() > deadline:
                node = waiting[0]
                raise LabError(
                    f"node {node} is not registered with its Map-Servers after "
                    f"{timeout:g} s; its log: {self.log(node)}\n" + self.tail(node)
                )
            time.sleep(0.1)

    def registered(self, node: str) -> bool:
        """Every Map-Server session of the ETR `node` is registered, and each lab node that
        is one of its Map-Servers lists the ETR's EID prefixes (an ETR of dynamic prefixes
        only has nothing to register before its hosts send: it counts as registered)."""
        state = self.state()
        if state is None or node not in state["nodes"]:
            return False
        try:
            entries: Any = ask(self.socket(node), "database", None)
            # A dynamic prefix is not registered itself (its hosts are, as they come).
            database = [e for e in entries if not e.get("dynamic") and not e.get("dynamic_host")]
            if entries and not database:
                return True
            sessions = [s for entry in database for s in entry.get("registrations", [])]
            if not sessions or any(s.get("state") != "registered" for s in sessions):
                return False
            prefixes = {entry["eid"] for entry in database}
            for server in state["nodes"][node]["map_server_nodes"]:
                registrations: Any = ask(self.socket(server), "registrations", None)
                listed = {r["eid"] for r in registrations}
                if not prefixes <= listed:
                    return False
        except (ControlError, TypeError, KeyError, AttributeError):
            return False
        return True

    def wait_registered(self, node: str, timeout: float = REGISTRATION_TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while not self.registered(node):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    # ------------------------------------------------------------ while up

    def restart_node(self, node: str, config: Path) -> None:
        """Stop one node and start it again, possibly with another configuration."""
        state = self.state()
        if state is None or node not in state["nodes"]:
            raise LabError(f"lab '{self.name}' has no lispstack node {node}")
        terminate_in(self.namespace(node), state["nodes"][node]["pid"])
        state["nodes"][node]["config"] = str(config)
        state["nodes"][node]["pid"] = self._start(node, config)
        self.save(state)

    def stop_captures(self) -> Path | None:
        """Stop recording; merge the parts into the capture file the lab was asked for
        (after what that file holds, when recording was resumed since it was written)."""
        state = self.state()
        if state is None or not state["captures"]:
            return None
        captures, state["captures"] = state["captures"], []
        self.save(state)
        merged = Path(state["capture"]) if state.get("capture") else None
        return capture.stop(captures, merged, keep_earlier=bool(state.get("capture_resumed")))

    def resume_captures(self, topology: Topology) -> None:
        """Record again after `stop_captures` wrote the capture file (the demo, kept up);
        the next stop adds the new frames to that file."""
        state = self.state()
        if state is None or state["captures"] or not state.get("capture"):
            return
        state["captures"] = capture.start(self, topology)
        state["capture_resumed"] = True
        self.save(state)

    def status(self) -> list[dict[str, Any]]:
        state = self.state()
        if state is None:
            return []
        out: list[dict[str, Any]] = []
        for node, entry in state["nodes"].items():
            running = entry["pid"] is not None and alive(entry["pid"])
            item: dict[str, Any] = {
                "node": node,
                "kind": "lispstack",
                "namespace": self.namespace(node),
                "pid": entry["pid"],
                "running": running,
                "config": entry["config"],
                "socket": str(self.socket(node)),
                "log": str(self.log(node)),
            }
            if entry["etr"]:
                item["registered"] = running and self.registered(node)
            if not running:
                item["log_tail"] = self.tail(node)
            out.append(item)
        for host in state["hosts"]:
            out.append({"node": host, "kind": "host", "namespace": self.namespace(host)})
        return out

    def capture_status(self) -> dict[str, Any]:
        state = self.state() or {}
        captures = state.get("captures", [])
        return {
            "file": state.get("capture"),
            "recording": bool(captures) and all(alive(c["pid"]) for c in captures),
        }

    # ------------------------------------------------------------ down

    def down(self) -> Path | None:
        """Stop and remove everything (idempotent); the merged capture's path, if one."""
        return self._teardown(keep_logs=False)

    def _teardown(self, keep_logs: bool) -> Path | None:
        merged: Path | None = None
        try:
            merged = self.stop_captures()
        finally:
            namespaces = namespaces_of(self.name)
            terminate([pid for namespace in namespaces for pid in in_namespace(namespace)])
            for namespace in namespaces:
                netns.delete(namespace)
            if keep_logs:
                self.remove_all_but_logs()
            else:
                shutil.rmtree(self.directory, ignore_errors=True)
        return merged
