"""What a live reload (`lispstack reload`, SIGHUP) would change, and what it cannot.

A running node takes new sites and keys, database mappings, Map-Servers,
Map-Resolvers, PETRs, `[itr]` use-petrs / send-map-request-on-miss, its log
level, a DDT node's `[[ddt-prefixes]]` and `[[delegations]]` and a DDT
Map-Resolver's `[[ddt-roots]]` (not whether it has any: that decides the
resolver). The rest (roles, addresses it binds, workers, sockets, the TUN
device, the instances' routing domains, table sizes) is fixed once it runs: a
reload that changes any of it is refused, naming the first such key, and the
node goes on as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from lispstack.config.model import (
    DdtRoot,
    MapResolverEntry,
    MapServerEntry,
    NodeConfig,
    Petr,
)

_Item = TypeVar("_Item")

_FIXED: tuple[tuple[str, Callable[[NodeConfig], object]], ...] = (
    ("node.name", lambda c: c.node.name),
    ("node.roles", lambda c: c.node.roles),
    ("node.control-socket", lambda c: c.node.control_socket),
    ("node.listen", lambda c: c.node.listen),
    ("node.log-format", lambda c: c.node.log_format),
    ("node.workers", lambda c: c.node.workers),
    ("node.metrics", lambda c: c.node.metrics),
    ("map-server.replay-window", lambda c: c.map_server.replay_window),
    ("itr.map-cache-limit", lambda c: c.itr.map_cache_limit),
    ("itr.subscribe", lambda c: c.itr.subscribe),
    ("pitr", lambda c: c.pitr),
    ("petr", lambda c: c.petr),
    ("etr", lambda c: c.etr),
    ("tun", lambda c: c.tun),
    ("data-plane", lambda c: c.data_plane),
    ("instances", lambda c: c.instances),
    ("ddt-roots (having some or none)", lambda c: bool(c.ddt_roots)),
)
"""The keys a running node cannot change, and how to read each from a config."""


def fixed_change(running: NodeConfig, new: NodeConfig) -> str | None:
    """The one-line refusal when `new` changes a key the running node cannot, else None."""
    for key, read in _FIXED:
        if read(running) != read(new):
            return f"{key} cannot change while the node runs (restart it to change {key})"
    return None


def describe_changes(running: NodeConfig, new: NodeConfig) -> list[str]:
    """What a reload from `running` to `new` changes, one short line each."""
    changes: list[str] = []
    sites = _keyed(running.sites, new.sites, lambda s: s.name)
    changes += _lines("site", sites)
    old_sites = {site.name: site for site in running.sites}
    for site in new.sites:
        before = old_sites.get(site.name)
        if before is None:
            continue
        old_keys = {key.key_id: key for key in before.keys}
        for key in site.keys:
            previous = old_keys.get(key.key_id)
            if previous is not None and previous != key:
                changes.append(f"site {site.name}: key {key.key_id} rotated")
    mappings = _keyed(running.database_mappings, new.database_mappings, lambda m: m.eid_prefix)
    changes += _lines("database-mapping", mappings)
    changes += _lines("map-server", _keyed(running.map_servers, new.map_servers, _address))
    changes += _lines("map-resolver", _keyed(running.map_resolvers, new.map_resolvers, _address))
    changes += _lines("petr", _keyed(running.petrs, new.petrs, _address))
    changes += _lines("ddt-root", _keyed(running.ddt_roots, new.ddt_roots, _address))
    changes += _lines("ddt-prefix", _keyed(running.ddt_prefixes, new.ddt_prefixes, str))
    changes += _lines(
        "delegation", _keyed(running.delegations, new.delegations, lambda d: d.eid_prefix)
    )
    if running.itr != new.itr:
        changes.append("itr options changed")
    if running.node.log_level != new.node.log_level:
        changes.append(f"log-level {running.node.log_level} -> {new.node.log_level}")
    return changes


def _address(entry: MapServerEntry | MapResolverEntry | Petr | DdtRoot) -> Hashable:
    return entry.address


def _keyed(
    old: Sequence[_Item], new: Sequence[_Item], key: Callable[[_Item], Hashable]
) -> tuple[list[str], list[str], list[str]]:
    """Added, removed and changed entries of a table, by `key`."""
    before = {key(item): item for item in old}
    after = {key(item): item for item in new}
    added = [str(k) for k in after if k not in before]
    removed = [str(k) for k in before if k not in after]
    changed = [str(k) for k, item in after.items() if k in before and before[k] != item]
    return added, removed, changed


def _lines(what: str, keyed: tuple[list[str], list[str], list[str]]) -> list[str]:
    added, removed, changed = keyed
    return (
        [f"{what} {name} added" for name in added]
        + [f"{what} {name} removed" for name in removed]
        + [f"{what} {name} changed" for name in changed]
    )
