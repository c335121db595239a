"""Lab topologies: nodes in network namespaces, veth links, addresses and routes (TOML).

The format (docs/lab.md has the whole story)::

    name = "seed"                            # the lab's default name: letters, digits, _

    [[nodes]]
    name = "lisp1"
    config = "seed/lisp1.toml"               # a lispstack node config file (relative to
                                             # this file) ...
    addresses = ["lo 192.168.1.1/32"]        # "INTERFACE CIDR": lo, a link end, or any
                                             # other name (a dummy interface is made)
    routes = ["10.0.2.0/24 via 10.0.1.254"]  # "PREFIX via NEXT-HOP"
    forwarding = false                       # route between interfaces (ip_forward)
    masquerade = "eth1"                      # a NAT: masquerade what leaves this interface
                                             # (nftables; implies forwarding)

    [[nodes]]
    name = "lisp3"
    [nodes.config.node]                      # ... or the node config written inline
    roles = ["itr", "etr"]                   # ([node] name defaults to the node's name)

    [[nodes]]
    name = "router"                          # no config: a plain host or router
    forwarding = true

    [[links]]                                # a veth pair: "NODE INTERFACE CIDR" per end
    a = "lisp1 eth0 10.0.1.1/24"
    b = "mapserver to-lisp1 10.0.1.254/24"
    capture = true                           # record end b into the lab's capture
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from ipaddress import ip_address, ip_interface, ip_network
from pathlib import Path
from typing import Any

from lispstack.config import ConfigError, NodeConfig, load_config, parse_config
from lispstack.config.model import DataPlaneOptions, Engine
from lispstack.config.role_checks import DATA_PLANE
from lispstack.lab.toml_text import dumps

LAB_NAME = re.compile(r"[A-Za-z0-9_]{1,32}")
NODE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,31}")
INTERFACE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")
NODE_KEYS = {"name", "config", "addresses", "routes", "forwarding", "masquerade"}
LINK_KEYS = {"a", "b", "capture"}
TOP_KEYS = {"name", "nodes", "links"}


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
    """One namespace. `config` is None for a plain host or router; `config_file` is None
    when the config was written inline (the lab writes it into its directory)."""

    name: str
    config: NodeConfig | None
    config_file: Path | None
    addresses: tuple[tuple[str, str], ...]
    routes: tuple[tuple[str, str], ...]
    forwarding: bool
    masquerade: str | None = None
    """The outside interface of a NAT node (source NAT of what leaves through it)."""

    @property
    def is_etr(self) -> bool:
        return self.config is not None and "etr" in self.config.roles


@dataclass(frozen=True, slots=True)
class Topology:
    name: str
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    source: str

    def with_engine(self, engine: Engine) -> Topology:
        """Every data-plane node on `engine` (`lab up --engine`): the lab writes their configs."""
        nodes = tuple(
            replace(
                node,
                config=replace(node.config, data_plane=DataPlaneOptions(engine=engine)),
                config_file=None,
            )
            if node.config is not None and any(node.config.has_role(r) for r in DATA_PLANE)
            else node
            for node in self.nodes
        )
        return replace(self, nodes=nodes)

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def link_interfaces(self, node: str) -> set[str]:
        return {
            end.interface for link in self.links for end in (link.a, link.b) if end.node == node
        }

    def owner_of(self, address: str) -> str | None:
        """The node that holds `address` (on a link end or as a node address)."""
        wanted = ip_address(address)
        for link in self.links:
            for end in (link.a, link.b):
                if ip_interface(end.cidr).ip == wanted:
                    return end.node
        for node in self.nodes:
            if any(ip_interface(cidr).ip == wanted for _, cidr in node.addresses):
                return node.name
        return None


def address_names(topology: Topology) -> dict[str, str]:
    """Every address of the topology (link ends and node addresses) -> its node's name."""
    names = {
        str(ip_interface(end.cidr).ip): end.node
        for link in topology.links
        for end in (link.a, link.b)
    }
    for node in topology.nodes:
        for _, cidr in node.addresses:
            names.setdefault(str(ip_interface(cidr).ip), node.name)
    return names


def check_lab_name(name: str) -> str:
    if not LAB_NAME.fullmatch(name):
        raise TopologyError(f"lab name '{name}': 1 to 32 letters, digits or '_' (no '-')")
    return name


def builtin(name: str) -> Path:
    path = Path(str(resources.files("lispstack.lab") / "topologies" / f"{name}.toml"))
    if not path.exists():
        raise TopologyError(f"no built-in topology '{name}' (and no such .toml file)")
    return path


def load_topology(spec: str) -> Topology:
    """A topology file, or the name of a built-in one ("seed")."""
    path = Path(spec) if spec.endswith(".toml") else builtin(spec)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise TopologyError(f"{path}: cannot read: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise TopologyError(f"{path}: invalid TOML: {error}") from None
    return _parse(data, path)


def _fail(path: Path, key: str, reason: str) -> TopologyError:
    return TopologyError(f"{path}: {key}: {reason}")


def _unknown(path: Path, key: str, raw: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise _fail(path, key, f"unknown key(s) {', '.join(sorted(unknown))}")


def _parse(data: dict[str, Any], path: Path) -> Topology:
    _unknown(path, "(top level)", data, TOP_KEYS)
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not LAB_NAME.fullmatch(name):
        raise _fail(path, "name", "1 to 32 letters, digits or '_' (no '-')")
    nodes = tuple(_node(path, f"nodes[{i}]", raw) for i, raw in enumerate(data.get("nodes", [])))
    names = [n.name for n in nodes]
    if not names:
        raise _fail(path, "nodes", "a topology needs at least one [[nodes]]")
    if len(set(names)) != len(names):
        raise _fail(path, "nodes", "node names must be unique")
    links = tuple(
        _link(path, f"links[{i}]", raw, names) for i, raw in enumerate(data.get("links", []))
    )
    ends = [(end.node, end.interface) for link in links for end in (link.a, link.b)]
    if len(set(ends)) != len(ends):
        raise _fail(path, "links", "an interface name is used twice on one node")
    return Topology(name, nodes, links, str(path))


def _node(path: Path, key: str, raw: Any) -> Node:
    if not isinstance(raw, dict):
        raise _fail(path, key, "expected a table ([[nodes]])")
    _unknown(path, key, raw, NODE_KEYS)
    name = raw.get("name")
    if not isinstance(name, str) or not NODE_NAME.fullmatch(name):
        raise _fail(path, f"{key}.name", "1 to 32 letters, digits, '_' or '-'")
    config, config_file = _config(path, f"{key}.config", name, raw.get("config"))
    try:
        addresses = tuple(_address(text) for text in raw.get("addresses", []))
        routes = tuple(_route(text) for text in raw.get("routes", []))
    except (ValueError, AttributeError) as error:
        raise _fail(path, key, str(error)) from None
    forwarding = raw.get("forwarding", False)
    if not isinstance(forwarding, bool):
        raise _fail(path, f"{key}.forwarding", "true or false")
    masquerade = raw.get("masquerade")
    if masquerade is not None and (
        not isinstance(masquerade, str) or not INTERFACE_NAME.fullmatch(masquerade)
    ):
        raise _fail(path, f"{key}.masquerade", "an interface name")
    forwarding = forwarding or masquerade is not None
    return Node(name, config, config_file, addresses, routes, forwarding, masquerade)


def _config(path: Path, key: str, node: str, raw: Any) -> tuple[NodeConfig | None, Path | None]:
    try:
        if raw is None:
            return None, None
        if isinstance(raw, str):
            file = (path.parent / raw).resolve()
            if not file.exists():
                raise _fail(path, key, f"{file} does not exist")
            return load_config(file), file
        if isinstance(raw, dict):
            document = {**raw, "node": {"name": node, **raw.get("node", {})}}
            return parse_config(dumps(document), f"{path}: {key}"), None
    except ConfigError as error:
        raise _fail(path, key, str(error)) from None
    raise _fail(path, key, "a file name or an inline table ([nodes.config.node] ...)")


def _address(text: str) -> tuple[str, str]:
    parts = text.split()
    if len(parts) != 2 or not INTERFACE_NAME.fullmatch(parts[0]):
        raise ValueError(f"address '{text}': expected 'INTERFACE CIDR'")
    ip_interface(parts[1])
    return parts[0], parts[1]


def _route(text: str) -> tuple[str, str]:
    parts = text.split()
    if len(parts) != 3 or parts[1] != "via":
        raise ValueError(f"route '{text}': expected 'PREFIX via NEXT-HOP'")
    ip_network(parts[0])
    ip_address(parts[2])
    return parts[0], parts[2]


def _link(path: Path, key: str, raw: Any, names: list[str]) -> Link:
    if not isinstance(raw, dict):
        raise _fail(path, key, "expected a table ([[links]])")
    _unknown(path, key, raw, LINK_KEYS)
    try:
        a, b = _end(raw["a"]), _end(raw["b"])
    except (KeyError, ValueError, AttributeError) as error:
        raise _fail(path, key, f"expected a and b as 'NODE INTERFACE CIDR': {error}") from None
    for end in (a, b):
        if end.node not in names:
            raise _fail(path, key, f"unknown node '{end.node}'")
    capture = raw.get("capture", False)
    if not isinstance(capture, bool):
        raise _fail(path, f"{key}.capture", "true or false")
    return Link(a, b, capture)


def _end(text: str) -> LinkEnd:
    parts = text.split()
    if len(parts) != 3:
        raise ValueError(f"'{text}'")
    node, interface, cidr = parts
    if not INTERFACE_NAME.fullmatch(interface):
        raise ValueError(f"interface name '{interface}': 1 to 15 of A-Z a-z 0-9 _ . -")
    ip_interface(cidr)
    return LinkEnd(node, interface, cidr)
