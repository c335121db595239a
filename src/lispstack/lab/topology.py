"""Lab topologies: nodes in network namespaces, veth links, addresses and routes (TOML).

name = "seed"                              # the lab's default name

[[nodes]]
name = "lisp1"
config = "seed/lisp1.toml"                 # a lispstack node config (relative to this
                                           # file); leave it out for a plain host/router
addresses = ["lo 192.168.1.1/32"]          # "INTERFACE CIDR", on lo or a link end
routes = ["10.0.2.0/24 via 10.0.1.254"]    # "PREFIX via NEXT-HOP"
forwarding = false                         # route between interfaces (ip_forward)

[[links]]                                  # a veth pair: "NODE INTERFACE CIDR" per end
a = "lisp1 eth0 10.0.1.1/24"
b = "mapserver to-lisp1 10.0.1.254/24"
capture = true                             # record end b into the lab's capture
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from ipaddress import ip_address, ip_interface, ip_network
from pathlib import Path
from typing import Any


class TopologyError(ValueError):
    """A topology file that cannot be built; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class LinkEnd:
    node: str
    interface: str
    cidr: str


@dataclass(frozen=True, slots=True)
class Link:
    a: LinkEnd
    b: LinkEnd
    capture: bool


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    config: Path | None
    addresses: tuple[tuple[str, str], ...]
    routes: tuple[tuple[str, str], ...]
    forwarding: bool


@dataclass(frozen=True, slots=True)
class Topology:
    name: str
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    source: str

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)


def builtin(name: str) -> Path:
    path = Path(str(resources.files("lispstack.lab") / "topologies" / f"{name}.toml"))
    if not path.exists():
        raise TopologyError(f"no built-in topology '{name}'")
    return path


def load_topology(spec: str) -> Topology:
    """A topology file, or the name of a built-in one ("seed")."""
    path = Path(spec) if spec.endswith(".toml") else builtin(spec)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise TopologyError(f"{path}: {error}") from None
    return _parse(data, path)


def _fail(path: Path, key: str, reason: str) -> TopologyError:
    return TopologyError(f"{path}: {key}: {reason}")


def _parse(data: dict[str, Any], path: Path) -> Topology:
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.isidentifier() or len(name) > 8:
        raise _fail(path, "name", "a short identifier of at most 8 characters")
    nodes = []
    for index, raw in enumerate(data.get("nodes", [])):
        key = f"nodes[{index}]"
        unknown = set(raw) - {"name", "config", "addresses", "routes", "forwarding"}
        if unknown:
            raise _fail(path, key, f"unknown key(s) {', '.join(sorted(unknown))}")
        node_name = raw.get("name")
        if not isinstance(node_name, str) or not node_name or len(name + node_name) > 14:
            raise _fail(path, f"{key}.name", "a name (lab and node names: 14 characters)")
        config = raw.get("config")
        config_path = (path.parent / config) if isinstance(config, str) else None
        if config_path is not None and not config_path.exists():
            raise _fail(path, f"{key}.config", f"{config_path} does not exist")
        try:
            addresses = tuple(_address(text) for text in raw.get("addresses", []))
            routes = tuple(_route(text) for text in raw.get("routes", []))
        except ValueError as error:
            raise _fail(path, key, str(error)) from None
        nodes.append(
            Node(node_name, config_path, addresses, routes, bool(raw.get("forwarding", False)))
        )
    names = [n.name for n in nodes]
    if len(set(names)) != len(names) or not names:
        raise _fail(path, "nodes", "node names must be present and unique")
    links = []
    for index, raw in enumerate(data.get("links", [])):
        try:
            a, b = _end(raw["a"]), _end(raw["b"])
        except (KeyError, ValueError) as error:
            raise _fail(
                path, f"links[{index}]", f"expected a and b as 'NODE IF CIDR': {error}"
            ) from None
        for end in (a, b):
            if end.node not in names:
                raise _fail(path, f"links[{index}]", f"unknown node '{end.node}'")
        links.append(Link(a, b, bool(raw.get("capture", False))))
    return Topology(name, tuple(nodes), tuple(links), str(path))


def _address(text: str) -> tuple[str, str]:
    interface, cidr = text.split()
    ip_interface(cidr)
    return interface, cidr


def _route(text: str) -> tuple[str, str]:
    prefix, via, hop = text.split()
    if via != "via":
        raise ValueError(f"route '{text}': expected 'PREFIX via NEXT-HOP'")
    ip_network(prefix)
    ip_address(hop)
    return prefix, hop


def _end(text: str) -> LinkEnd:
    node, interface, cidr = text.split()
    ip_interface(cidr)
    if len(interface) > 15:
        raise ValueError(f"interface name '{interface}' longer than 15 characters")
    return LinkEnd(node, interface, cidr)
