"""A drawing of a lab: its nodes (roles, addresses, EID prefixes, RLOCs, registered or not)
and the links between them, laid out on a grid around the busiest node.

Labs are a handful of nodes, most of them around one Map-Server: a grid walk
from that hub (neighbours left, right, below, above, then diagonally; a
node's own neighbours continue outward) draws them without crossings and
needs no layout engine.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from ipaddress import ip_network
from typing import Any

from lispstack.lab.topology import Link, Node, Topology
from lispstack.mapping.prefix import EidPrefix
from lispstack.pictures.svg import GREY, INK, RED, add, document, text_width, to_string

GREEN = "#2e7d32"
COLOURS = {"title": INK, "role": "#3e4c59", "plain": INK, "ok": GREEN, "bad": RED, "muted": GREY}
FONT_SIZE = 12
LINE = 17
PAD = 12
DIRECTIONS = ((-1, 0), (1, 0), (0, 1), (0, -1), (-1, 1), (1, 1), (-1, -1), (1, -1))


@dataclass(frozen=True, slots=True)
class LiveNode:
    """What a running node says: its ETR database and its Map-Server registrations (the
    `lispstack show database|registrations --json` answers), None where it plays no such role."""

    running: bool
    database: list[dict[str, Any]] | None = None
    registrations: list[dict[str, Any]] | None = None


Line = tuple[str, str]
"""A line of a node's box: its text and its style (a key of COLOURS)."""


def node_lines(node: Node, live: LiveNode | None) -> list[Line]:
    lines: list[Line] = [(node.name, "title")]
    config = node.config
    if config is None:
        lines.append(("router" if node.forwarding else "host", "role"))
    else:
        lines.append((", ".join(str(role) for role in config.roles), "role"))
        if live is not None and not live.running:
            lines.append(("STOPPED", "bad"))
    lines += [(f"{interface} {cidr}", "plain") for interface, cidr in node.addresses]
    if config is None:
        return lines
    sessions = {
        str(entry.get("eid")): entry.get("registrations", [])
        for entry in (live.database or [] if live else [])
    }
    for mapping in config.database_mappings:
        rlocs = ", ".join(str(rloc.address) for rloc in mapping.rlocs)
        lines.append((f"EID {mapping.eid_prefix} → RLOC {rlocs}", "plain"))
        if mapping.dynamic:  # not registered itself: its hosts are
            lines += _dynamic_hosts(
                EidPrefix(mapping.eid_prefix.iid, mapping.eid_prefix.network), live
            )
            continue
        lines += _registered(sessions.get(str(mapping.eid_prefix)), live)
    lines += [(f"PETR {petr.address}", "plain") for petr in config.petrs]
    if config.sites:
        lines.append(("sites " + ", ".join(site.name for site in config.sites), "plain"))
    if live is not None and live.registrations is not None:
        for entry in live.registrations:
            by = f" by {entry['registered_by']}" if entry.get("registered_by") else ""
            lines.append((f"holds {entry.get('eid')}{by}", "ok"))
        if not live.registrations:
            lines.append(("no registrations", "bad"))
    return lines


def _dynamic_hosts(prefix: EidPrefix, live: LiveNode | None) -> list[Line]:
    """The hosts learned in a dynamic prefix (`show database`)."""
    if live is None or not live.running:
        return [("  dynamic (node not running)", "muted")]
    hosts = [
        str(entry["eid"])
        for entry in live.database or []
        if entry.get("dynamic_host")
        and prefix.contains(EidPrefix(int(entry.get("iid", 0)), ip_network(str(entry["eid"]))))
    ]
    return (
        [("  dynamic: no host yet", "muted")]
        if not hosts
        else [(f"  dynamic: host {host}", "ok") for host in hosts]
    )


def _registered(sessions: list[dict[str, Any]] | None, live: LiveNode | None) -> list[Line]:
    if live is None or not live.running:
        return [("  registration unknown (node not running)", "muted")]
    if not sessions:
        return [("  NOT registered", "bad")]
    return [
        (f"  registered with {s['map_server']}", "ok")
        if s.get("state") == "registered"
        else (f"  NOT registered with {s['map_server']} ({s.get('state')})", "bad")
        for s in sessions
    ]


def _grid(topology: Topology) -> dict[str, tuple[int, int]]:
    """Each node's (column, row): the hub at (0, 0), neighbours around it."""
    neighbours: dict[str, list[str]] = {node.name: [] for node in topology.nodes}
    for link in topology.links:
        neighbours[link.a.node].append(link.b.node)
        neighbours[link.b.node].append(link.a.node)
    hub = max(topology.nodes, key=lambda node: len(neighbours[node.name])).name
    place = {hub: (0, 0)}
    heading: dict[str, tuple[int, int]] = {hub: (0, 0)}
    queue = [hub]
    while queue:
        current = queue.pop(0)
        x, y = place[current]
        outward = heading[current]
        tried = [outward, *DIRECTIONS] if outward != (0, 0) else list(DIRECTIONS)
        for neighbour in neighbours[current]:
            if neighbour in place:
                continue
            free = [d for d in tried if (x + d[0], y + d[1]) not in place.values()]
            step = free[0] if free else (0, 1 + max(row for _, row in place.values()) - y)
            place[neighbour] = (x + step[0], y + step[1])
            heading[neighbour] = step if free else (0, 1)
            queue.append(neighbour)
    bottom = max(row for _, row in place.values()) + 1
    loose = [node.name for node in topology.nodes if node.name not in place]
    for column, name in enumerate(loose):
        place[name] = (column, bottom)
    return place


def lab_svg(topology: Topology, live: dict[str, LiveNode], title: str) -> str:
    boxes = {node.name: node_lines(node, live.get(node.name)) for node in topology.nodes}
    size: dict[str, tuple[float, float]] = {
        name: (
            max(text_width(text, FONT_SIZE) for text, _ in lines) + 2 * PAD,
            len(lines) * LINE + 2 * PAD - 4.0,
        )
        for name, lines in boxes.items()
    }
    ends = [f"{end.interface} {end.cidr}" for link in topology.links for end in (link.a, link.b)]
    end_width = max((text_width(text, 11) for text in ends), default=0.0)
    cell_w = max(w for w, _ in size.values()) + 2 * end_width + 60
    cell_h = max(h for _, h in size.values()) + 90
    grid = _grid(topology)
    left = min(column for column, _ in grid.values())
    top = min(row for _, row in grid.values())
    centre = {
        name: ((column - left + 0.5) * cell_w, 50 + (row - top + 0.5) * cell_h)
        for name, (column, row) in grid.items()
    }
    width = (max(column for column, _ in grid.values()) - left + 1) * cell_w
    height = 50 + (max(row for _, row in grid.values()) - top + 1) * cell_h + 30
    root = document(width, height, title)
    add(root, "text", title, x=16, y=28, font_size=15, font_weight="bold", fill=INK)
    legend = "green: registered · red: not registered or stopped"
    add(root, "text", legend, x=16, y=height - 12, font_size=11, fill=GREY)
    for link in topology.links:
        _link(root, link, centre, size)
    for node in topology.nodes:
        _box(root, node, boxes[node.name], centre[node.name], size[node.name])
    return to_string(root)


def _exit(centre: tuple[float, float], size: tuple[float, float], dx: float, dy: float) -> float:
    """How far along the unit vector (dx, dy) from the box centre its border is."""
    half_w, half_h = size[0] / 2, size[1] / 2
    return min(half_w / abs(dx) if dx else math.inf, half_h / abs(dy) if dy else math.inf)


def _link(
    root: ET.Element,
    link: Link,
    centre: dict[str, tuple[float, float]],
    size: dict[str, tuple[float, float]],
) -> None:
    (ax, ay), (bx, by) = centre[link.a.node], centre[link.b.node]
    length = math.hypot(bx - ax, by - ay) or 1.0
    dx, dy = (bx - ax) / length, (by - ay) / length
    group = add(root, "g", class_="link", data_a=link.a.node, data_b=link.b.node)
    add(group, "title", f"{link.a.node} {link.a.interface} {link.a.cidr} — "
        f"{link.b.node} {link.b.interface} {link.b.cidr}")  # fmt: skip
    add(group, "line", x1=ax, y1=ay, x2=bx, y2=by, stroke="#52606d", stroke_width=2)
    for end, (x, y), sign in ((link.a, (ax, ay), 1), (link.b, (bx, by), -1)):
        reach = _exit((x, y), size[end.node], dx, dy) + 8
        px, py = x + sign * dx * reach, y + sign * dy * reach
        horizontal = abs(dx) >= abs(dy)
        anchor = "start" if (sign * dx >= 0 if horizontal else True) else "end"
        if horizontal:
            tx, ty = px, py - 7
        else:
            tx, ty = px + 7, py + (12 if sign * dy > 0 else -4)
        add(group, "text", f"{end.interface} {end.cidr}", x=tx, y=ty, font_size=11,
            text_anchor=anchor, fill="#52606d")  # fmt: skip


def _box(
    root: ET.Element,
    node: Node,
    lines: list[Line],
    centre: tuple[float, float],
    size: tuple[float, float],
) -> None:
    x, y = centre[0] - size[0] / 2, centre[1] - size[1] / 2
    stopped = any(style == "bad" and text == "STOPPED" for text, style in lines)
    group = add(root, "g", class_="node", data_node=node.name)
    fill = "#f5f7fa" if node.config is None else "#e3f0fc"
    add(group, "rect", x=x, y=y, width=size[0], height=size[1], rx=8, fill=fill,
        stroke=RED if stopped else "#3e4c59", stroke_width=1.5)  # fmt: skip
    for number, (text, style) in enumerate(lines):
        bold = "bold" if style == "title" else "normal"
        add(group, "text", text, x=x + PAD, y=y + PAD + 9 + number * LINE,
            font_size=FONT_SIZE + (2 if style == "title" else 0), font_weight=bold,
            fill=COLOURS[style], class_=style)  # fmt: skip
