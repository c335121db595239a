"""Building a node's roles from its configuration."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from lispstack.config.model import NodeConfig, NodeRole
from lispstack.core.counters import Counters
from lispstack.core.ddt_fast_path import DdtFastPath
from lispstack.core.ddt_node import DdtNode
from lispstack.core.ddt_resolver import DdtResolver
from lispstack.core.drops import DropRecorder
from lispstack.core.etr import Etr
from lispstack.core.events import Action, DatagramReceived, IPAddress
from lispstack.core.itr import Itr
from lispstack.core.map_resolver import MapResolver
from lispstack.core.map_server import MapServer
from lispstack.core.node import Node
from lispstack.core.register_refresh import with_refresh
from lispstack.core.resolver_fast_path import ResolverFastPath
from lispstack.core.role import Role
from lispstack.core.xtr import build_rtr_roles, build_xtr_roles
from lispstack.wire.records import new_locator_sets


def build_node(
    config: NodeConfig, rng: random.Random, proxy_rlocs: Sequence[IPAddress] = ()
) -> Node:
    """A Node with every role the configuration names.

    The mapping-system roles come first, so that a node that is both a
    Map-Resolver and an ETR answers Map-Requests as a resolver.
    """
    counters = Counters()
    drops = DropRecorder(counters)
    locator_sets = new_locator_sets()
    roles: list[Role] = []
    registering = resolver = ddt_resolver = None
    if config.has_role(NodeRole.MAP_SERVER) or config.has_role(NodeRole.MAP_RESOLVER):
        map_server = MapServer.from_config(config, counters, drops, locator_sets)
        if config.has_role(NodeRole.MAP_SERVER):
            registering = map_server
            roles.append(map_server)
        if config.has_role(NodeRole.MAP_RESOLVER) and config.ddt_roots:
            ddt_resolver = DdtResolver([r.address for r in config.ddt_roots], counters, drops)
            roles.append(ddt_resolver)
        elif config.has_role(NodeRole.MAP_RESOLVER):
            resolver = MapResolver(map_server, counters, drops)
            roles.append(resolver)
    if config.has_role(NodeRole.DDT_NODE):
        roles.append(DdtNode.from_config(config, counters, drops))
    roles.extend(build_xtr_roles(config, counters, drops, rng, proxy_rlocs))
    if config.has_role(NodeRole.RTR):
        roles.extend(build_rtr_roles(config, counters, drops, rng, proxy_rlocs))
    node = Node(config.name, roles, counters, drops, locator_sets)
    control: Callable[[DatagramReceived, float], list[Action]] = node.handle_control
    if registering is not None:
        control = with_refresh(registering.refresh_from_bytes, control)
        registering.replicating = config.node.workers > 1
        node.apply_replica = registering.apply_replica
    if resolver is not None:
        fast_path = ResolverFastPath(control, resolver, counters)
        control = fast_path.handle
        node.answer_cached = fast_path.answer_cached
        node.answer_ddt_cached = fast_path.answer_ddt_cached
    if ddt_resolver is not None:
        control = DdtFastPath(control, ddt_resolver).handle
    node.use_control_fast_path(control)
    for role in roles:
        if isinstance(role, Itr):
            node.encapsulate_ipv4 = role.encapsulate_ipv4
    data_roles = [role for role in roles if role.handles_data]
    if data_roles and isinstance(data_roles[0], Etr):  # the one Node.handle gives data to
        node.decapsulate_data = data_roles[0].decapsulate_data
    return node
