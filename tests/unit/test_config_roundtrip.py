"""Property: a generated valid NodeConfig, rendered to TOML, parses back to the same values."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_network
from pathlib import PurePosixPath
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lispstack.config import (
    AuthAlgorithm,
    ConfigPrefix,
    DatabaseMapping,
    DdtRoot,
    Delegation,
    DelegationChild,
    DelegationKind,
    EtrOptions,
    Instance,
    IPAddress,
    ItrOptions,
    ListenAddress,
    LogFormat,
    LogLevel,
    MapResolverEntry,
    MapServerEntry,
    NatTraversalMode,
    NodeConfig,
    NodeRole,
    NodeSection,
    Petr,
    PetrOptions,
    PitrOptions,
    Rloc,
    Site,
    SiteKey,
    TunOptions,
    parse_config,
    render_config,
)

u8 = st.integers(0, 255)
secrets = st.text(min_size=1, max_size=20)


def usable(address: IPAddress) -> bool:
    return not (address.is_unspecified or address.is_multicast)


addresses = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).filter(usable)


@st.composite
def prefixes(draw: st.DrawFn) -> ConfigPrefix:
    address = draw(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)))
    length = draw(st.integers(0, address.max_prefixlen))
    iid = draw(st.one_of(st.just(0), st.integers(0, (1 << 24) - 1)))
    return ConfigPrefix(iid=iid, network=ip_network(f"{address}/{length}", strict=False))


def unique_prefixes(min_size: int = 1) -> st.SearchStrategy[list[ConfigPrefix]]:
    return st.lists(prefixes(), min_size=min_size, max_size=3, unique=True)


rlocs = st.builds(Rloc, address=addresses, priority=u8, weight=u8, m_priority=u8, m_weight=u8)


@st.composite
def database_mapping(draw: st.DrawFn, prefix: ConfigPrefix) -> DatabaseMapping:
    chosen = draw(st.lists(rlocs, min_size=1, max_size=3, unique_by=lambda r: r.address))
    return DatabaseMapping(eid_prefix=prefix, rlocs=tuple(chosen))


map_servers = st.builds(
    MapServerEntry,
    address=addresses,
    auth_key=secrets,
    key_id=u8,
    algorithm=st.sampled_from(AuthAlgorithm),
    proxy_reply=st.booleans(),
    want_map_notify=st.booleans(),
    register_ttl=st.integers(1, 0xFFFF_FFFF),
    register_interval=st.integers(1, 3600),
)
site_keys = st.builds(
    SiteKey,
    key_id=u8,
    key=secrets,
    algorithm=st.one_of(st.none(), st.sampled_from(AuthAlgorithm)),
)


@st.composite
def sites(draw: st.DrawFn) -> tuple[Site, ...]:
    names = draw(
        st.lists(
            st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    all_prefixes = draw(
        st.lists(prefixes(), min_size=len(names) * 2, max_size=len(names) * 2, unique=True)
    )
    result = []
    for index, name in enumerate(names):
        keys = draw(st.lists(site_keys, min_size=1, max_size=3, unique_by=lambda k: k.key_id))
        count = draw(st.integers(1, 2))
        result.append(
            Site(
                name=name,
                keys=tuple(keys),
                eid_prefixes=tuple(all_prefixes[index * 2 : index * 2 + count]),
                accept_more_specifics=draw(st.booleans()),
                allow_overlap=draw(st.booleans()),
                previous_key_grace=draw(st.integers(0, 30 * 86_400)),
                rtrs=tuple(draw(st.lists(addresses, max_size=2, unique=True))),
            )
        )
    # A site whose prefix lies inside another site's must allow it, or the config is wrong.
    return tuple(
        replace(site, allow_overlap=True) if _inside_another(site, result) else site
        for site in result
    )


def _inside_another(site: Site, sites: list[Site]) -> bool:
    return any(
        inner.iid == outer.iid
        and inner.network.version == outer.network.version
        and inner.network.subnet_of(outer.network)  # type: ignore[arg-type]
        for other in sites
        if other is not site
        for outer in other.eid_prefixes
        for inner in site.eid_prefixes
    )


def has(roles: tuple[NodeRole, ...], *wanted: NodeRole) -> bool:
    return any(role in roles for role in wanted)


@st.composite
def configs(draw: st.DrawFn) -> NodeConfig:
    roles = tuple(draw(st.lists(st.sampled_from(NodeRole), min_size=1, max_size=6, unique=True)))
    name = draw(st.from_regex(r"[a-z0-9_-]{1,63}", fullmatch=True))
    node = NodeSection(
        name=name,
        roles=roles,
        control_socket=PurePosixPath(draw(st.from_regex(r"/[a-z0-9._-]{1,20}", fullmatch=True))),
        listen=tuple(draw(st.lists(addresses, max_size=2, unique=True))),
        log_level=draw(st.sampled_from(LogLevel)),
        log_format=draw(st.sampled_from(LogFormat)),
        metrics=draw(
            st.none()
            | st.builds(ListenAddress, addresses, st.integers(min_value=1, max_value=0xFFFF))
        ),
    )
    mappings: tuple[DatabaseMapping, ...] = ()
    if has(roles, NodeRole.ETR, NodeRole.ITR):
        owned = draw(unique_prefixes(1 if NodeRole.ETR in roles else 0))
        mappings = tuple(draw(database_mapping(p)) for p in owned)
    servers: tuple[MapServerEntry, ...] = ()
    if NodeRole.ETR in roles:
        servers = tuple(draw(st.lists(map_servers, max_size=2, unique_by=lambda s: s.address)))
    petrs: tuple[Petr, ...] = ()
    if NodeRole.ITR in roles:
        petr_list = st.builds(Petr, address=addresses, priority=u8, weight=u8)
        petrs = tuple(draw(st.lists(petr_list, max_size=2, unique_by=lambda p: p.address)))
    resolvers: tuple[MapResolverEntry, ...] = ()
    if has(roles, NodeRole.ITR, NodeRole.PITR, NodeRole.RTR):
        need = 1 if has(roles, NodeRole.PITR, NodeRole.RTR) or not petrs else 0
        chosen = draw(st.lists(addresses, min_size=need, max_size=2, unique=True))
        resolvers = tuple(MapResolverEntry(address=a) for a in chosen)
    itr = ItrOptions(
        map_cache_limit=draw(st.integers(1, 100_000_000)),
        use_petrs=bool(petrs) and draw(st.booleans()),
        send_map_request_on_miss=bool(resolvers) and draw(st.booleans()),
    )
    if NodeRole.ITR not in roles:
        itr = ItrOptions(use_petrs=bool(petrs), send_map_request_on_miss=bool(resolvers))
    pitr = PitrOptions()
    if NodeRole.PITR in roles:
        pitr = PitrOptions(eid_prefixes=tuple(draw(unique_prefixes())))
    petr = PetrOptions(check_source=NodeRole.PETR in roles and draw(st.booleans()))
    tun = TunOptions(device=f"lisp-{name}"[:15])
    if has(roles, NodeRole.ITR, NodeRole.ETR, NodeRole.PITR, NodeRole.PETR):
        device = draw(st.from_regex(r"[a-z0-9_-]{1,15}", fullmatch=True))
        tun = TunOptions(device=device, mtu=draw(st.integers(576, 65535)))
    # Every non-zero instance-id of the mappings needs its routing domain.
    iids = sorted(({m.eid_prefix.iid for m in mappings} | {p.iid for p in pitr.eid_prefixes}) - {0})
    instances = tuple(
        Instance(iid=iid, interfaces=(f"eth{n}",), table=1000 + n, device=f"t{n}")
        for n, iid in enumerate(iids)
    )
    return NodeConfig(
        node=node,
        tun=tun,
        instances=instances,
        database_mappings=mappings,
        map_servers=servers,
        map_resolvers=resolvers,
        petrs=petrs,
        sites=draw(sites()) if NodeRole.MAP_SERVER in roles else (),
        itr=itr,
        etr=EtrOptions(nat_traversal=draw(st.sampled_from(NatTraversalMode)))
        if NodeRole.ETR in roles
        else EtrOptions(),
        pitr=pitr,
        petr=petr,
        **draw(ddt_tables(roles)),
    )


@st.composite
def ddt_tables(draw: st.DrawFn, roles: tuple[NodeRole, ...]) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    if NodeRole.MAP_RESOLVER in roles:
        roots = draw(st.lists(addresses, max_size=2, unique=True))
        tables["ddt_roots"] = tuple(DdtRoot(address=a) for a in roots)
    if NodeRole.DDT_NODE not in roles:
        return tables
    prefixes = tuple(draw(unique_prefixes()))
    # The first authoritative prefix delegated whole: inside it, and nesting no other.
    children = (DelegationChild(address=draw(addresses), priority=draw(u8), weight=draw(u8)),)
    delegation = Delegation(
        eid_prefix=prefixes[0],
        children=children,
        kind=draw(st.sampled_from(DelegationKind)),
        ttl=draw(st.integers(1, 2**32 - 1)),
    )
    tables["ddt_prefixes"] = prefixes
    tables["delegations"] = draw(st.sampled_from([(), (delegation,)]))
    return tables


@settings(max_examples=200, deadline=None)
@given(configs())
def test_rendered_config_parses_to_the_same_values(config: NodeConfig) -> None:
    text = render_config(config)
    assert parse_config(text, "generated.toml") == config


@settings(max_examples=100, deadline=None)
@given(configs())
def test_rendering_is_stable(config: NodeConfig) -> None:
    text = render_config(config)
    assert render_config(parse_config(text, "generated.toml")) == text
