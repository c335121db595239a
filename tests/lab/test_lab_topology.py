"""Topology files: the built-in seed lab, inline node configs, and errors naming file and key."""

from __future__ import annotations

import tomllib
from ipaddress import ip_address, ip_interface, ip_network
from pathlib import Path

import pytest

from lispstack.lab.state import LabFiles
from lispstack.lab.toml_text import dumps
from lispstack.lab.topology import TopologyError, check_lab_name, load_topology


def test_seed_is_the_scenario() -> None:
    seed = load_topology("seed")
    assert seed.name == "seed"
    assert [n.name for n in seed.nodes] == ["lisp1", "mapserver", "lisp2"]
    ends = {(e.node, e.cidr) for link in seed.links for e in (link.a, link.b)}
    assert ends == {
        ("lisp1", "10.0.1.1/24"),
        ("mapserver", "10.0.1.254/24"),
        ("lisp2", "10.0.2.2/24"),
        ("mapserver", "10.0.2.254/24"),
    }
    assert all(link.capture for link in seed.links)
    assert seed.node("lisp1").addresses == (("lo", "192.168.1.1/32"),)
    assert seed.node("lisp2").addresses == (("lo", "192.168.2.1/32"),)
    assert seed.node("mapserver").forwarding
    roles = {n.name: n.config.roles for n in seed.nodes if n.config is not None}
    assert roles == {
        "lisp1": ("itr", "etr"),
        "mapserver": ("map-server", "map-resolver"),
        "lisp2": ("itr", "etr"),
    }
    eids = {
        n.name: [str(m.eid_prefix) for m in n.config.database_mappings]
        for n in seed.nodes
        if n.config is not None and n.is_etr
    }
    assert eids == {"lisp1": ["192.168.1.0/24"], "lisp2": ["192.168.2.0/24"]}


def test_seed_has_no_route_to_4_2_2_2() -> None:
    seed = load_topology("seed")
    for node in seed.nodes:
        for prefix, _ in node.routes:
            assert ip_address("4.2.2.2") not in ip_network(prefix), (node.name, prefix)
    assert seed.owner_of("4.2.2.2") is None
    assert seed.owner_of("10.0.2.254") == "mapserver"


INLINE = """
name = "inl"

[[nodes]]
name = "ms"
addresses = ["dummy0 172.31.0.1/32"]
[nodes.config.node]
roles = ["map-server"]
[[nodes.config.sites]]
name = "a"
auth-key = "k"
eid-prefixes = ["10.9.0.0/16"]

[[nodes]]
name = "host"
routes = ["0.0.0.0/1 via 10.8.0.1"]

[[links]]
a = "ms eth0 10.8.0.1/24"
b = "host eth0 10.8.0.2/24"
"""


def test_inline_config_and_plain_host(tmp_path: Path) -> None:
    path = tmp_path / "inline.toml"
    path.write_text(INLINE)
    topology = load_topology(str(path))
    ms, host = topology.nodes
    assert ms.config is not None and ms.config_file is None
    assert ms.config.node.name == "ms"  # defaults to the topology's node name
    assert [site.name for site in ms.config.sites] == ["a"]
    assert ms.addresses == (("dummy0", "172.31.0.1/32"),)
    assert host.config is None and host.routes == (("0.0.0.0/1", "10.8.0.1"),)
    assert topology.link_interfaces("ms") == {"eth0"}
    assert not topology.links[0].capture


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('name = "a-b"\n[[nodes]]\nname = "x"\n', "name", "no '-'"),
        ('colour = 1\n[[nodes]]\nname = "x"\n', "(top level)", "colour"),
        ('[[nodes]]\nname = "x"\nroute = []\n', "nodes[0]", "unknown key(s) route"),
        ('[[nodes]]\nname = "x"\nroutes = ["10.0.0.0/8 to 1.2.3.4"]\n', "nodes[0]", "via"),
        ('[[nodes]]\nname = "x"\naddresses = ["10.0.0.1/8"]\n', "nodes[0]", "INTERFACE CIDR"),
        ('[[nodes]]\nname = "x"\nconfig = "missing.toml"\n', "nodes[0].config", "not exist"),
        ('[[nodes]]\nname = "x"\n[nodes.config.node]\nroles = ["bogus"]\n',
         "nodes[0].config", "roles"),
        ('[[nodes]]\nname = "x"\n[[nodes]]\nname = "x"\n', "nodes", "unique"),
        ("", "nodes", "at least one"),
        ('[[nodes]]\nname = "x"\n[[links]]\na = "x e 10.0.0.1/24"\nb = "y e 10.0.0.2/24"\n',
         "links[0]", "unknown node 'y'"),
        ('[[nodes]]\nname = "x"\n[[links]]\na = "x e 10.0.0.1/24"\nb = "x e 10.0.0.2/24"\n',
         "links", "used twice"),
        ('[[nodes]]\nname = "x"\n[[links]]\na = "x e0"\nb = "x e1 10.0.0.2/24"\n',
         "links[0]", "NODE INTERFACE CIDR"),
    ],
)  # fmt: skip
def test_errors_name_the_file_and_key(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(TopologyError) as error:
        load_topology(str(path))
    message = str(error.value)
    assert message.startswith(f"{path}: {key}"), message
    assert reason in message


def test_unknown_builtin_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="no built-in topology 'nope'"):
        load_topology("nope")
    with pytest.raises(TopologyError, match="cannot read"):
        load_topology(str(tmp_path / "absent.toml"))


def test_lab_names_hold_no_dash() -> None:
    assert check_lab_name("seed_2") == "seed_2"
    for bad in ("a-b", "", "x" * 33, "a b"):
        with pytest.raises(TopologyError):
            check_lab_name(bad)
    with pytest.raises(TopologyError):
        LabFiles("bad-name")
    files = LabFiles("demo")
    assert files.namespace("lisp1") == "demo-lisp1"
    assert files.log("lisp1") == Path("/run/lispstack/lab/demo/lisp1.log")


def test_toml_text_round_trips_a_node_config() -> None:
    document = {
        "node": {"name": "n", "roles": ["itr", "etr"], "control-socket": "/tmp/x y.sock"},
        "database-mappings": [
            {"eid-prefix": "[100]10.1.0.0/16", "rlocs": [{"address": "10.0.1.1", "weight": 100}]}
        ],
        "map-servers": [{"address": "10.0.1.254", "proxy-reply": True, "ttl": 1.5}],
        "itr": {"nested": {"deep": 'q"uote'}},
    }
    assert tomllib.loads(dumps(document)) == document


def test_ddt_topology_is_a_delegation_hierarchy() -> None:
    ddt = load_topology("ddt")
    configs = {n.name: n.config for n in ddt.nodes if n.config is not None}
    roles = {name: tuple(str(r) for r in c.roles) for name, c in configs.items()}
    assert [name for name, r in roles.items() if r == ("ddt-node",)] == ["root", "ddt-a", "ddt-b"]
    address = {
        e.node: ip_interface(e.cidr).ip for link in ddt.links for e in (link.a,) if e.node != "mr"
    }
    # Every delegation names a node of the lab, of the right kind.
    for name in ("root", "ddt-a", "ddt-b"):
        for delegation in configs[name].delegations:
            for child in delegation.children:
                (owner,) = [n for n, a in address.items() if a == child.address]
                wanted = "map-server" if delegation.kind == "map-server" else "ddt-node"
                assert wanted in roles[owner], (name, delegation.eid_prefix, owner)
    assert configs["mr"].ddt_roots[0].address == address["root"]
    # Three sites, over two Map-Servers; site3 registers with both.
    servers = {
        n: [str(m.address) for m in configs[n].map_servers] for n in ("site1", "site2", "site3")
    }
    assert servers == {
        "site1": [str(address["ms1"])],
        "site2": [str(address["ms1"])],
        "site3": [str(address["ms2"]), str(address["ms1"])],
    }
