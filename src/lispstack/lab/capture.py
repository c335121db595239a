"""The lab's capture: one dumpcap per namespace that holds captured link ends, merged at stop.

dumpcap writes pcapng with one interface block per interface, so the merged
file keeps the interface names (to-lisp1, to-lisp2, ...).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from lispstack.lab import netns
from lispstack.lab.processes import alive, terminate_in
from lispstack.lab.state import LabError, LabFiles
from lispstack.lab.topology import Topology

CAPTURE_FILTER = "udp port 4341 or udp port 4342 or icmp or icmp6"


def start(files: LabFiles, topology: Topology) -> list[dict[str, Any]]:
    """Start recording every `capture = true` link (at its b end); returns the state entries."""
    by_namespace: dict[str, list[str]] = {}
    for link in topology.links:
        if link.capture:
            by_namespace.setdefault(files.namespace(link.b.node), []).append(link.b.interface)
    log = files.directory / "dumpcap.log"
    captures: list[dict[str, Any]] = []
    for namespace, interfaces in by_namespace.items():
        part = files.directory / f"capture-{namespace}.pcapng"
        argv = ["dumpcap", "-q", "-w", str(part)]
        for interface in interfaces:
            argv += ["-i", interface, "-f", CAPTURE_FILTER]
        process = netns.popen_in(namespace, argv, str(log))
        captures.append({"pid": process.pid, "namespace": namespace, "file": str(part)})
    deadline = time.monotonic() + 10
    while not all(Path(c["file"]).exists() for c in captures):
        if time.monotonic() > deadline or not all(alive(c["pid"]) for c in captures):
            raise LabError(f"dumpcap did not start; its log: {log}\n{_read(log)}")
        time.sleep(0.05)
    time.sleep(0.5)  # dumpcap creates the file just before its capture is live
    return captures


CAPTURE_SETTLE_S = 0.5
"""Time for dumpcap to read what the kernel holds for it before it is stopped: it is
not drained on SIGTERM, and a demo's last messages were sent moments before."""


def stop(
    captures: list[dict[str, Any]], merged: Path | None, *, keep_earlier: bool = False
) -> Path | None:
    """Stop every dumpcap, merge their files into `merged` (chronologically); its path.

    `keep_earlier`: `merged` holds frames recorded before (and already
    written): they are merged in too, not overwritten.
    """
    if captures:
        time.sleep(CAPTURE_SETTLE_S)
    for capture in captures:
        terminate_in(capture["namespace"], capture["pid"])
    parts = [c["file"] for c in captures if Path(c["file"]).exists()]
    if merged is None or not parts:
        return None
    merged.parent.mkdir(parents=True, exist_ok=True)
    earlier = [str(merged)] if keep_earlier and merged.exists() else []
    writing = merged.with_name(merged.name + ".merging")  # mergecap cannot write its input
    result = subprocess.run(
        ["mergecap", "-F", "pcapng", "-w", str(writing), *earlier, *parts],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        writing.unlink(missing_ok=True)
        raise LabError(f"mergecap failed: {result.stderr.strip()}")
    writing.replace(merged)
    for part in parts:
        Path(part).unlink(missing_ok=True)
    return merged


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""
