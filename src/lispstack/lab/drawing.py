"""`lispstack lab draw`: the running lab's topology and each node's live state, as SVG."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lispstack.io.control_socket import ControlError, ask
from lispstack.lab.processes import alive
from lispstack.lab.runner import Lab
from lispstack.lab.state import LabError
from lispstack.lab.topology import Topology, load_topology
from lispstack.pictures.lab_drawing import LiveNode, lab_svg


def _answer(lab: Lab, node: str, topic: str) -> list[dict[str, Any]] | None:
    """The node's answer on `topic`, or None if it has no such table (or cannot answer)."""
    try:
        answer = ask(lab.socket(node), topic, None)
    except ControlError:
        return None
    return answer if isinstance(answer, list) else None


def live_nodes(lab: Lab) -> dict[str, LiveNode]:
    """Every lispstack node of the lab: running or not, and what it says about registrations."""
    state = lab.state() or {"nodes": {}}
    live: dict[str, LiveNode] = {}
    for node, entry in state["nodes"].items():
        running = entry.get("pid") is not None and alive(entry["pid"])
        if not running:
            live[node] = LiveNode(False)
            continue
        live[node] = LiveNode(
            True, _answer(lab, node, "database"), _answer(lab, node, "registrations")
        )
    return live


def draw_lab(lab: Lab, out: Path, topology: Topology | None = None) -> Path:
    """Draw the lab `lab` (up) into `out`; its topology is read from its state unless given."""
    state = lab.state()
    if state is None:
        raise LabError(f"lab '{lab.name}' is not up: nothing to draw")
    if topology is None:
        topology = load_topology(state["topology"])
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    title = f"lab {lab.name} ({Path(topology.source).name}) at {when}"
    out.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n' + lab_svg(topology, live_nodes(lab), title)
    )
    return out
