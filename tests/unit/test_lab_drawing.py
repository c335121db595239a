"""The drawing of a lab from its topology and its nodes' live state (no lab needed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from helpers.pictures import SVG, assert_renders, groups, node_texts, texts
from lispstack.lab.topology import load_topology
from lispstack.pictures.lab_drawing import GREEN, LiveNode, lab_svg, node_lines
from lispstack.pictures.svg import RED

LISP1_DATABASE = [
    {
        "eid": "192.168.1.0/24",
        "registrations": [{"map_server": "10.0.1.254", "state": "registered"}],
    }
]
LISP2_DATABASE = [
    {
        "eid": "192.168.2.0/24",
        "registrations": [{"map_server": "10.0.2.254", "state": "registering"}],
    }
]
LIVE = {
    "lisp1": LiveNode(True, LISP1_DATABASE),
    "lisp2": LiveNode(True, LISP2_DATABASE),
    "mapserver": LiveNode(True, None, [{"eid": "192.168.1.0/24", "registered_by": "10.0.1.1"}]),
}


def _draw(tmp_path: Path, topology: str, live: dict[str, LiveNode]) -> tuple[ET.Element, Path]:
    path = tmp_path / f"{topology}.svg"
    path.write_text(lab_svg(load_topology(topology), live, f"lab {topology}"))
    return ET.parse(path).getroot(), path


def _fill_of(svg: ET.Element, text: str) -> str | None:
    return next((t.get("fill") for t in svg.iter(f"{SVG}text") if t.text == text), None)


def test_seed_nodes_roles_links_eids_and_registration_state(tmp_path: Path) -> None:
    svg, path = _draw(tmp_path, "seed", LIVE)
    nodes = node_texts(svg)
    assert nodes == {
        "lisp1": [
            "lisp1",
            "itr, etr",
            "lo 192.168.1.1/32",
            "EID 192.168.1.0/24 → RLOC 10.0.1.1",
            "  registered with 10.0.1.254",
        ],
        "mapserver": [
            "mapserver",
            "map-server, map-resolver",
            "sites site-a, site-b",
            "holds 192.168.1.0/24 by 10.0.1.1",
        ],
        "lisp2": [
            "lisp2",
            "itr, etr",
            "lo 192.168.2.1/32",
            "EID 192.168.2.0/24 → RLOC 10.0.2.2",
            "  NOT registered with 10.0.2.254 (registering)",
        ],
    }
    assert _fill_of(svg, "  registered with 10.0.1.254") == GREEN
    assert _fill_of(svg, "  NOT registered with 10.0.2.254 (registering)") == RED
    links = groups(svg, "link")
    assert [(g.get("data-a"), g.get("data-b")) for g in links] == [
        ("lisp1", "mapserver"),
        ("lisp2", "mapserver"),
    ]
    assert texts(links[0]) == ["eth0 10.0.1.1/24", "to-lisp1 10.0.1.254/24"]
    # lisp1 left of the Map-Server, lisp2 right of it, on one row
    boxes = {g.get("data-node"): g.find(f"{SVG}rect") for g in groups(svg, "node")}
    xs = {name: float(rect.get("x", "0")) for name, rect in boxes.items() if rect is not None}
    assert xs["lisp1"] < xs["mapserver"] < xs["lisp2"]
    assert_renders(path)


def test_a_stopped_node_and_a_plain_host(tmp_path: Path) -> None:
    live = {**LIVE, "lisp2": LiveNode(False), "mapserver": LiveNode(True, None, [])}
    svg, _ = _draw(tmp_path, "seed-pxtr", live)
    nodes = node_texts(svg)
    assert nodes["lisp2"][:3] == ["lisp2", "itr, etr", "STOPPED"]
    assert "  registration unknown (node not running)" in nodes["lisp2"]
    assert "no registrations" in nodes["mapserver"]
    assert nodes["internet"] == ["internet", "host", "lo 4.2.2.2/32"]
    assert nodes["pxtr"][:2] == ["pxtr", "pitr, petr"]
    assert "PETR 10.0.3.3" in nodes["lisp1"]
    assert len(groups(svg, "link")) == 4
    rects = {g.get("data-node"): g.find(f"{SVG}rect") for g in groups(svg, "node")}
    assert rects["lisp2"] is not None and rects["lisp2"].get("stroke") == RED


def test_a_dynamic_prefix_shows_its_learned_hosts_not_a_registration() -> None:
    topology = load_topology("mobility")
    xtra = next(n for n in topology.nodes if n.name == "xtra")
    database = [
        {"eid": "192.168.1.0/24", "iid": 0, "dynamic": True, "registrations": []},
        {"eid": "192.168.1.10/32", "iid": 0, "dynamic_host": True, "registrations": []},
    ]
    lines = node_lines(xtra, LiveNode(True, database))
    assert ("  dynamic: host 192.168.1.10/32", "ok") in lines
    assert not any("NOT registered" in text for text, _ in lines)
    assert ("  dynamic: no host yet", "muted") in node_lines(xtra, LiveNode(True, database[:1]))
