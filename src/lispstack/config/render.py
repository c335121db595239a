"""NodeConfig -> TOML text that `parse_config` reads back to an equal NodeConfig.

For tools that write node configs (the lab writes one per node) and for the
round-trip tests. Every value is written explicitly; tables a role does not
use are left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from lispstack.config.model import Delegation, NodeConfig, NodeRole, Rloc, Site
from lispstack.config.role_checks import DATA_PLANE

Scalar = str | int | bool


def toml_value(value: Scalar | Iterable[Scalar]) -> str:
    """One TOML value: a string, integer, boolean or array of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return "[" + ", ".join(toml_value(item) for item in value) + "]"


def inline_table(pairs: dict[str, Scalar]) -> str:
    return "{ " + ", ".join(f"{key} = {toml_value(v)}" for key, v in pairs.items()) + " }"


def _table(header: str, pairs: dict[str, Scalar | Iterable[Scalar]]) -> list[str]:
    return ["", header, *(f"{key} = {toml_value(value)}" for key, value in pairs.items())]


def _rloc(rloc: Rloc) -> str:
    return inline_table(
        {
            "address": str(rloc.address),
            "priority": rloc.priority,
            "weight": rloc.weight,
            "m-priority": rloc.m_priority,
            "m-weight": rloc.m_weight,
        }
    )


def _site(site: Site) -> list[str]:
    lines = _table("[[sites]]", {"name": site.name})
    only = site.keys[0]
    if len(site.keys) == 1 and only.key_id == 0 and only.algorithm is None:
        lines.append(f"auth-key = {toml_value(only.key)}")
    else:
        keys = []
        for key in site.keys:
            pairs: dict[str, Scalar] = {"id": key.key_id, "key": key.key}
            if key.algorithm is not None:
                pairs["algorithm"] = key.algorithm.value
            keys.append(inline_table(pairs))
        lines.append("auth-keys = [" + ", ".join(keys) + "]")
    lines.append(f"eid-prefixes = {toml_value(str(p) for p in site.eid_prefixes)}")
    lines.append(f"accept-more-specifics = {toml_value(site.accept_more_specifics)}")
    lines.append(f"allow-overlap = {toml_value(site.allow_overlap)}")
    lines.append(f"previous-key-grace = {toml_value(site.previous_key_grace)}")
    if site.rtrs:
        lines.append(f"rtrs = {toml_value(str(r) for r in site.rtrs)}")
    return lines


def _delegation(delegation: Delegation) -> list[str]:
    lines = _table(
        "[[delegations]]",
        {
            "eid-prefix": str(delegation.eid_prefix),
            "kind": delegation.kind.value,
            "ttl": delegation.ttl,
        },
    )
    children = (
        inline_table({"address": str(c.address), "priority": c.priority, "weight": c.weight})
        for c in delegation.children
    )
    lines.append("children = [" + ", ".join(children) + "]")
    return lines


def render_config(config: NodeConfig) -> str:
    """The TOML text of `config`."""
    node = config.node
    pairs: dict[str, Scalar | Iterable[Scalar]] = {
        "name": node.name,
        "roles": [role.value for role in node.roles],
        "control-socket": str(node.control_socket),
        "listen": [str(address) for address in node.listen],
        "log-level": node.log_level.value,
        "log-format": node.log_format.value,
        "workers": node.workers,
    }
    if node.metrics is not None:
        pairs["metrics"] = str(node.metrics)
    lines = _table("[node]", pairs)
    for mapping in config.database_mappings:
        mapping_pairs: dict[str, Scalar | Iterable[Scalar]] = {
            "eid-prefix": str(mapping.eid_prefix)
        }
        if mapping.map_version:
            mapping_pairs["map-version"] = mapping.map_version
        if mapping.dynamic:
            mapping_pairs.update(
                {
                    "dynamic": True,
                    "dynamic-timeout": mapping.dynamic_timeout,
                    "dynamic-limit": mapping.dynamic_limit,
                }
            )
        lines += _table("[[database-mappings]]", mapping_pairs)
        lines.append("rlocs = [" + ", ".join(_rloc(r) for r in mapping.rlocs) + "]")
    for server in config.map_servers:
        lines += _table(
            "[[map-servers]]",
            {
                "address": str(server.address),
                "auth-key": server.auth_key,
                "key-id": server.key_id,
                "algorithm": server.algorithm.value,
                "proxy-reply": server.proxy_reply,
                "want-map-notify": server.want_map_notify,
                "register-ttl": server.register_ttl,
                "register-interval": server.register_interval,
            },
        )
    for resolver in config.map_resolvers:
        lines += _table("[[map-resolvers]]", {"address": str(resolver.address)})
    for petr in config.petrs:
        lines += _table(
            "[[petrs]]",
            {"address": str(petr.address), "priority": petr.priority, "weight": petr.weight},
        )
    for site in config.sites:
        lines += _site(site)
    if config.has_role(NodeRole.MAP_SERVER):
        lines += _table("[map-server]", {"replay-window": config.map_server.replay_window})
    if config.has_role(NodeRole.ITR):
        lines += _table(
            "[itr]",
            {
                "map-cache-limit": config.itr.map_cache_limit,
                "use-petrs": config.itr.use_petrs,
                "send-map-request-on-miss": config.itr.send_map_request_on_miss,
                "rloc-probe-interval": config.itr.rloc_probe_interval,
                "rloc-probe-misses": config.itr.rloc_probe_misses,
                "rloc-probe-rate": config.itr.rloc_probe_rate,
                "echo-nonce": config.itr.echo_nonce,
                "subscribe": config.itr.subscribe,
                "rloc-path-mtu": config.itr.rloc_path_mtu,
            },
        )
    if config.has_role(NodeRole.ETR):
        lines += _table("[etr]", {"nat-traversal": config.etr.nat_traversal.value})
    if config.has_role(NodeRole.PITR):
        prefixes = [str(prefix) for prefix in config.pitr.eid_prefixes]
        lines += _table("[pitr]", {"eid-prefixes": prefixes})
    if config.has_role(NodeRole.PETR):
        lines += _table("[petr]", {"check-source": config.petr.check_source})
    for ddt_root in config.ddt_roots:
        lines += _table("[[ddt-roots]]", {"address": str(ddt_root.address)})
    for prefix in config.ddt_prefixes:
        lines += _table("[[ddt-prefixes]]", {"eid-prefix": str(prefix)})
    for delegation in config.delegations:
        lines += _delegation(delegation)
    if any(config.has_role(role) for role in DATA_PLANE):
        lines += _table("[tun]", {"device": config.tun.device, "mtu": config.tun.mtu})
        lines += _table("[data-plane]", {"engine": config.data_plane.engine.value})
    for instance in config.instances:
        lines += _table(
            "[[instances]]",
            {
                "iid": instance.iid,
                "interfaces": list(instance.interfaces),
                "table": instance.table,
                "device": instance.device,
            },
        )
    return "\n".join(lines[1:]) + "\n"
