"""The xTR roles of a node (ITR and/or ETR), built from its configuration."""

from __future__ import annotations

import random

from lispstack.config.model import NodeConfig, NodeRole
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.encapsulation import RlocChoice
from lispstack.core.etr import Etr
from lispstack.core.itr import Itr
from lispstack.core.local_eids import LocalEids
from lispstack.core.petr import Petr
from lispstack.core.role import Role


def build_xtr_roles(
    config: NodeConfig, counters: Counters, drops: DropRecorder, rng: random.Random
) -> list[Role]:
    """The ETR (first: it owns Map-Request/ECM/Map-Notify) and ITR roles the config asks for."""
    local = LocalEids(config.database_mappings)
    roles: list[Role] = []
    if config.has_role(NodeRole.ETR):
        roles.append(
            Etr(
                local=local,
                map_servers=config.map_servers,
                counters=counters,
                drops=drops,
                rng=rng,
            )
        )
    if config.has_role(NodeRole.ITR):
        roles.append(
            Itr(
                local=local,
                map_resolvers=[r.address for r in config.map_resolvers],
                counters=counters,
                drops=drops,
                rng=rng,
                map_cache_limit=config.itr.map_cache_limit,
                send_map_request_on_miss=config.itr.send_map_request_on_miss,
                petrs=[
                    RlocChoice(index, petr.address, petr.priority, petr.weight)
                    for index, petr in enumerate(config.petrs)
                ]
                if config.itr.use_petrs
                else (),
            )
        )
    if config.has_role(NodeRole.PETR):
        roles.append(Petr(counters, drops))
    return roles
