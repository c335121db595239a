"""The xTR roles of a node (ITR and/or ETR), built from its configuration."""

from __future__ import annotations

import random
from collections.abc import Sequence

from lispstack.config.model import NatTraversalMode, NodeConfig, NodeRole
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.encapsulation import petr_choices
from lispstack.core.etr import Etr
from lispstack.core.events import IPAddress
from lispstack.core.itr import Itr
from lispstack.core.local_eids import LocalEids
from lispstack.core.nat_traversal import NatTraversal
from lispstack.core.petr import Petr
from lispstack.core.role import Role
from lispstack.core.rtr import Rtr
from lispstack.core.subscriber import Subscriber
from lispstack.mapping.prefix import EidPrefix


def build_xtr_roles(
    config: NodeConfig,
    counters: Counters,
    drops: DropRecorder,
    rng: random.Random,
    proxy_rlocs: Sequence[IPAddress] = (),
) -> list[Role]:
    """The ETR (first: it owns Map-Request/ECM/Map-Notify), ITR or PITR, NAT traversal
    (an ETR's, unless `[etr] nat-traversal = "off"`) and PETR roles.

    `proxy_rlocs` are the RLOCs a PITR sends from; it has no database mappings to
    take them from, so the edge finds them (the address towards the Map-Resolver).
    """
    local = LocalEids(config.database_mappings)
    roles: list[Role] = []
    etr = None
    if config.has_role(NodeRole.ETR):
        etr = Etr(
            local=local, map_servers=config.map_servers, counters=counters, drops=drops, rng=rng
        )
        roles.append(etr)
    if config.has_role(NodeRole.ITR) or config.has_role(NodeRole.PITR):
        proxy = config.has_role(NodeRole.PITR)
        itr = Itr(
            local=LocalEids(config.database_mappings, proxy_rlocs) if proxy else local,
            map_resolvers=[r.address for r in config.map_resolvers],
            counters=counters,
            drops=drops,
            rng=rng,
            map_cache_limit=config.itr.map_cache_limit,
            send_map_request_on_miss=config.itr.send_map_request_on_miss,
            petrs=petr_choices(config),
            attracted=[EidPrefix(p.iid, p.network) for p in config.pitr.eid_prefixes]
            if proxy
            else (),
            rloc_probe_interval=config.itr.rloc_probe_interval,
            rloc_probe_misses=config.itr.rloc_probe_misses,
            rloc_probe_rate=config.itr.rloc_probe_rate,
            echo_nonce=config.itr.echo_nonce,
            rloc_path_mtu=config.itr.rloc_path_mtu,
        )
        roles.append(itr)
        if etr is not None:
            etr.on_smr = itr.handle_smr  # the ETR owns Map-Requests; SMRs are the ITR's
            etr.on_source_version = itr.source_version_seen
            etr.on_locator_status = itr.locator_status_seen
            etr.locator_status_differs = itr.locator_status_differs
            if config.itr.echo_nonce:  # else the one-call decapsulation pays nothing for it
                etr.on_nonce = itr.nonce_seen
                etr.echo_nonce_wanted = itr.echo_nonce_wanted
            itr.on_local_source = etr.saw_local_source  # moving EIDs: hosts seen sending
            if config.itr.subscribe:
                itr.subscriber = Subscriber(etr.xtr_id, lambda: [s.key for s in etr.sessions])
                etr.on_publication = itr.handle_publication
    if etr is not None and config.etr.nat_traversal is NatTraversalMode.AUTO:
        itr_role = next((r for r in roles if isinstance(r, Itr)), None)
        roles.append(NatTraversal(etr, itr_role, config.map_servers, counters, drops, rng))
    if config.has_role(NodeRole.PETR):
        petr = Petr(counters, drops, [i.iid for i in config.instances])
        roles.append(petr)
        if etr is not None:  # the ETR takes the LISP data: what is for no EID of ours, too
            etr.on_not_our_eid = petr.forward
    return roles


def build_rtr_roles(
    config: NodeConfig,
    counters: Counters,
    drops: DropRecorder,
    rng: random.Random,
    own_rlocs: Sequence[IPAddress],
) -> list[Role]:
    """The RTR and the Proxy-ITR it resolves and encapsulates with (every EID attracted,
    sending from `own_rlocs`, found by the edge as for a PITR)."""
    itr = Itr(
        local=LocalEids((), own_rlocs),
        map_resolvers=[r.address for r in config.map_resolvers],
        counters=counters,
        drops=drops,
        rng=rng,
        map_cache_limit=config.itr.map_cache_limit,
        attracted=[EidPrefix.parse("0.0.0.0/0"), EidPrefix.parse("::/0")],
        rloc_probe_interval=config.itr.rloc_probe_interval,
    )
    return [Rtr(itr, own_rlocs, counters, drops, rng), itr]
