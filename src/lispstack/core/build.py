"""Building a node's roles from its configuration."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from lispstack.config.model import NodeConfig, NodeRole
from lispstack.core.counters import Counters
from lispstack.core.ddt_node import DdtNode
from lispstack.core.ddt_resolver import DdtResolver
from lispstack.core.drops import DropRecorder
from lispstack.core.events import Action, DatagramReceived, IPAddress
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
    registering = resolver = None
    if config.has_role(NodeRole.MAP_SERVER) or config.has_role(NodeRole.MAP_RESOLVER):
        map_server = MapServer.from_config(config, counters, drops, locator_sets)
        if config.has_role(NodeRole.MAP_SERVER):
            registering = map_server
            roles.append(map_server)
        if config.has_role(NodeRole.MAP_RESOLVER) and config.ddt_roots:
            roles.append(DdtResolver([r.address for r in config.ddt_roots], counters, drops))
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
    node.use_control_fast_path(control)
    return node
