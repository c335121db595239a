"""Checks across tables: what each role needs, and tables no role of the node uses."""

from __future__ import annotations

from collections.abc import Collection

from lispstack.config.errors import ConfigError
from lispstack.config.model import Engine, NodeConfig, NodeRole

DATA_PLANE = (NodeRole.ITR, NodeRole.ETR, NodeRole.PITR, NodeRole.PETR)

USED_BY: dict[str, tuple[NodeRole, ...]] = {
    "database-mappings": (NodeRole.ETR, NodeRole.ITR),
    "map-servers": (NodeRole.ETR,),
    "map-resolvers": (NodeRole.ITR, NodeRole.PITR, NodeRole.RTR),
    "petrs": (NodeRole.ITR,),
    "sites": (NodeRole.MAP_SERVER,),
    "map-server": (NodeRole.MAP_SERVER,),
    "itr": (NodeRole.ITR,),
    "etr": (NodeRole.ETR,),
    "pitr": (NodeRole.PITR,),
    "petr": (NodeRole.PETR,),
    "tun": DATA_PLANE,
    "data-plane": DATA_PLANE,
    "instances": DATA_PLANE,
    "ddt-roots": (NodeRole.MAP_RESOLVER,),
    "ddt-prefixes": (NodeRole.DDT_NODE,),
    "delegations": (NodeRole.DDT_NODE,),
}
"""Which roles use each top-level table; a table present on a node without them is an error."""


def _roles_text(roles: tuple[NodeRole, ...]) -> str:
    names = [role.value for role in roles]
    return names[0] if len(names) == 1 else "roles " + ", ".join(names[:-1]) + f" or {names[-1]}"


def check_unused(source: str, node_roles: tuple[NodeRole, ...], present: Collection[str]) -> None:
    """Reject a table (present in the file) that no role of the node uses."""
    for key, roles in USED_BY.items():
        if key in present and not any(role in node_roles for role in roles):
            used = _roles_text(roles)
            used = used if used.startswith("roles") else f"role {used}"
            raise ConfigError(
                source,
                key,
                f"only used by {used}, which node.roles does not include",
            )


def check_required(config: NodeConfig, present: Collection[str]) -> None:
    """Reject a node whose roles need a table it does not have."""

    def missing(key: str, role: NodeRole, what: str) -> ConfigError:
        return ConfigError(config.source, key, f"role {role.value} needs {what}, but it is missing")

    if config.node.workers > 1:
        xtr_roles = [role.value for role in config.node.roles if role in DATA_PLANE]
        if xtr_roles:
            raise ConfigError(
                config.source,
                "node.workers",
                f"more than one worker is only for roles map-server and map-resolver, "
                f"not {', '.join(xtr_roles)} (a TUN device and its routes belong to one process)",
            )
    if config.ddt_roots and config.node.workers > 1:
        raise ConfigError(
            config.source,
            "node.workers",
            "a DDT Map-Resolver ([[ddt-roots]]) runs as one worker"
            " (a Map-Referral must reach the worker that asked for it)",
        )
    if config.has_role(NodeRole.ETR) and not config.database_mappings:
        raise missing("database-mappings", NodeRole.ETR, "at least one [[database-mappings]]")
    if config.has_role(NodeRole.ITR) and not (config.map_resolvers or config.petrs):
        raise missing("map-resolvers", NodeRole.ITR, "[[map-resolvers]] (or [[petrs]])")
    if config.itr.subscribe and not (config.has_role(NodeRole.ETR) and config.map_servers):
        raise ConfigError(
            config.source,
            "itr.subscribe",
            "true, but a subscriber needs role etr and [[map-servers]]"
            " (the Map-Server knows it by the xTR-ID it registers with, and its key)",
        )
    if config.itr.echo_nonce and config.data_plane.engine is Engine.EBPF:
        raise ConfigError(
            config.source,
            "itr.echo-nonce",
            "true, but echo-nonce reads the nonce of every data packet, which the eBPF"
            ' engine carries in the kernel: [data-plane] engine = "tun" (or "auto",'
            " which then picks tun)",
        )
    if config.has_role(NodeRole.MAP_SERVER) and not config.sites:
        raise missing("sites", NodeRole.MAP_SERVER, "at least one [[sites]]")
    if config.has_role(NodeRole.DDT_NODE) and not config.ddt_prefixes:
        raise missing("ddt-prefixes", NodeRole.DDT_NODE, "at least one [[ddt-prefixes]]")
    if config.has_role(NodeRole.PITR):
        if "pitr" not in present:
            raise missing("pitr", NodeRole.PITR, "a [pitr] table with eid-prefixes")
        if not config.map_resolvers:
            raise missing("map-resolvers", NodeRole.PITR, "[[map-resolvers]]")
    if config.has_role(NodeRole.RTR) and not config.map_resolvers:
        raise missing("map-resolvers", NodeRole.RTR, "[[map-resolvers]]")
