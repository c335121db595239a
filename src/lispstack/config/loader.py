"""Read a node configuration: TOML text or file -> validated `NodeConfig`, or one ConfigError."""

from __future__ import annotations

import os
import tomllib

from lispstack.config.ddt_sections import read_ddt_roots, read_ddt_tables
from lispstack.config.errors import ConfigError
from lispstack.config.instances import check_instances
from lispstack.config.model import NodeConfig, PitrOptions
from lispstack.config.role_checks import check_required, check_unused
from lispstack.config.schema import NODE_FILE
from lispstack.config.sections import (
    read_data_plane,
    read_database_mapping,
    read_etr_options,
    read_instance,
    read_itr_options,
    read_map_resolver,
    read_map_server,
    read_map_server_options,
    read_node,
    read_petr,
    read_petr_options,
    read_pitr_options,
    read_site,
    read_tun,
    unique,
)
from lispstack.config.site_prefixes import check_site_prefixes
from lispstack.config.table import Table, check_keys


def load_config(path: str | os.PathLike[str]) -> NodeConfig:
    """Read and validate the config file at `path`; errors name the path as given."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "", f"not UTF-8 text (byte {exc.start})") from None
    return parse_config(text, source)


def parse_config(text: str, source: str) -> NodeConfig:
    """Validate TOML `text`; `source` names it in errors (usually the file name)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"invalid TOML: {exc}") from None
    check_keys(data, NODE_FILE, source)
    root = Table(data, NODE_FILE, source=source)
    node_table = root.table("node")
    if node_table is None:
        raise root.error("node", "missing required table [node]")
    node = read_node(node_table)
    check_unused(source, node.roles, data.keys())

    mappings = tuple(read_database_mapping(t) for t in root.tables("database-mappings"))
    unique(
        root,
        "database-mappings",
        mappings,
        lambda m: m.eid_prefix,
        "EID prefix",
        field="eid-prefix",
    )
    map_servers = tuple(read_map_server(t) for t in root.tables("map-servers"))
    unique(root, "map-servers", map_servers, lambda m: m.address, "address", field="address")
    resolvers = tuple(read_map_resolver(t) for t in root.tables("map-resolvers"))
    unique(root, "map-resolvers", resolvers, lambda m: m.address, "address", field="address")
    petrs = tuple(read_petr(t) for t in root.tables("petrs"))
    unique(root, "petrs", petrs, lambda p: p.address, "address", field="address")
    sites = tuple(read_site(t) for t in root.tables("sites"))
    unique(root, "sites", sites, lambda s: s.name, "site name", field="name")
    check_site_prefixes(root, sites)
    map_server = read_map_server_options(root.table("map-server"))
    ddt_prefixes, delegations = read_ddt_tables(root)

    itr = read_itr_options(root.table("itr"), has_petrs=bool(petrs), has_resolvers=bool(resolvers))
    pitr_table = root.table("pitr")
    pitr = read_pitr_options(pitr_table) if pitr_table is not None else PitrOptions()
    tun = read_tun(root.table("tun"), node.name)
    instances = tuple(read_instance(t, tun.device) for t in root.tables("instances"))
    check_instances(root, instances, mappings, pitr.eid_prefixes)
    config = NodeConfig(
        node=node,
        tun=tun,
        database_mappings=mappings,
        map_servers=map_servers,
        map_resolvers=resolvers,
        petrs=petrs,
        sites=sites,
        map_server=map_server,
        itr=itr,
        etr=read_etr_options(root.table("etr")),
        pitr=pitr,
        petr=read_petr_options(root.table("petr")),
        instances=instances,
        data_plane=read_data_plane(root.table("data-plane")),
        ddt_prefixes=ddt_prefixes,
        delegations=delegations,
        ddt_roots=read_ddt_roots(root),
        source=source,
    )
    root.done()
    check_required(config, data.keys())
    return config
