"""One reader per config table: TOML table -> model object (keys documented in model.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from pathlib import PurePosixPath
from typing import TypeVar

from lispstack.config.model import (
    AuthAlgorithm,
    DatabaseMapping,
    DataPlaneOptions,
    Engine,
    EtrOptions,
    Instance,
    ItrOptions,
    ListenAddress,
    LogFormat,
    LogLevel,
    MapResolverEntry,
    MapServerEntry,
    MapServerOptions,
    NatTraversalMode,
    NodeRole,
    NodeSection,
    Petr,
    PetrOptions,
    PitrOptions,
    Rloc,
    Site,
    SiteKey,
    TunOptions,
)
from lispstack.config.prefix import MAX_IID, IPAddress, parse_address, parse_prefix
from lispstack.config.table import Table, join

T = TypeVar("T")
E = TypeVar("E", bound=str)

NODE_NAME = re.compile(r"[a-z0-9_-]{1,63}")
SITE_NAME = re.compile(r"[A-Za-z0-9._-]{1,63}")
TUN_DEVICE = re.compile(r"[^/\s]{1,15}")
MAX_U8 = 255
MAX_MAP_VERSION = 4095
MAX_U32 = 0xFFFF_FFFF


def enum_parser(kind: Callable[[str], E], values: Sequence[str], what: str) -> Callable[[str], E]:
    """A parser accepting exactly `values`, naming them all when the text is something else."""

    def parse(text: str) -> E:
        if text not in values:
            expected = (
                ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else values[0]
            )
            raise ValueError(f"unknown {what} {text!r} (expected {expected})")
        return kind(text)

    return parse


parse_algorithm = enum_parser(AuthAlgorithm, [a.value for a in AuthAlgorithm], "algorithm")
parse_log_level = enum_parser(LogLevel, [v.value for v in LogLevel], "log level")
parse_log_format = enum_parser(LogFormat, [v.value for v in LogFormat], "log format")
parse_nat_traversal = enum_parser(
    NatTraversalMode, [v.value for v in NatTraversalMode], "nat-traversal mode"
)
parse_role = enum_parser(NodeRole, [r.value for r in NodeRole], "role")


def unique(
    table: Table,
    key: str,
    items: Sequence[T],
    ident: Callable[[T], Hashable],
    what: str,
    *,
    field: str = "",
) -> None:
    """Reject the second item of `table.key` (pointing at its `field`) equal to an earlier one."""
    seen: dict[Hashable, int] = {}
    for index, item in enumerate(items):
        value = ident(item)
        if value in seen:
            path = join(join(table.path, key), index)
            raise table.child_error(
                join(path, field) if field else path,
                f"duplicate {what} {value!s} (also {join(key, seen[value])})",
            )
        seen[value] = index


def matching(pattern: re.Pattern[str], what: str, rule: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if pattern.fullmatch(text) is None:
            raise ValueError(f"bad {what} {text!r} (expected {rule})")
        return text

    return parse


def non_empty(text: str) -> str:
    if not text:
        raise ValueError("must not be empty")
    return text


def parse_rloc_address(text: str) -> IPAddress:
    address = parse_address(text)
    if address.is_unspecified or address.is_multicast:
        raise ValueError(f"{text!r} cannot be an RLOC")
    return address


MAX_WORKERS = 64


def parse_listen_address(text: str) -> ListenAddress:
    """`ADDRESS:PORT`, an IPv6 address in brackets (`[::1]:9100`)."""
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        host = ""
    if not colon or not host or not port.isdigit():
        raise ValueError(f"bad address {text!r} (expected ADDRESS:PORT or [IPv6]:PORT)")
    number = int(port)
    if not 1 <= number <= 0xFFFF:
        raise ValueError(f"port {number} out of range 1-65535")
    return ListenAddress(parse_address(host), number)


def read_node(table: Table) -> NodeSection:
    name = table.parsed("name", matching(NODE_NAME, "node name", "1-63 of a-z 0-9 _ -"))
    roles = table.parsed_list("roles", parse_role, required=True)
    unique(table, "roles", roles, str, "role")
    socket = table.parsed(
        "control-socket",
        lambda text: PurePosixPath(non_empty(text)),
        PurePosixPath(f"/run/lispstack/{name}.sock"),
    )
    listen = table.parsed_list("listen", parse_address)
    unique(table, "listen", listen, str, "address")
    log_level = table.parsed("log-level", parse_log_level, LogLevel.INFO)
    log_format = table.parsed("log-format", parse_log_format, LogFormat.TEXT)
    workers = table.integer("workers", low=1, high=MAX_WORKERS, default=1)
    metrics = table.parsed("metrics", parse_listen_address, None)
    table.done()
    return NodeSection(
        name=name,
        roles=roles,
        control_socket=socket,
        listen=listen,
        log_level=log_level,
        log_format=log_format,
        workers=workers,
        metrics=metrics,
    )


def read_priority_weight(table: Table, key: str, default: int) -> int:
    return table.integer(key, low=0, high=MAX_U8, default=default)


def read_rloc(table: Table) -> Rloc:
    rloc = Rloc(
        address=table.parsed("address", parse_rloc_address),
        priority=read_priority_weight(table, "priority", 1),
        weight=read_priority_weight(table, "weight", 100),
        m_priority=read_priority_weight(table, "m-priority", 255),
        m_weight=read_priority_weight(table, "m-weight", 0),
    )
    table.done()
    return rloc


def read_database_mapping(table: Table) -> DatabaseMapping:
    prefix = table.parsed("eid-prefix", parse_prefix)
    rloc_tables = table.tables("rlocs", required=True)
    rlocs = tuple(read_rloc(t) for t in rloc_tables)
    unique(table, "rlocs", rlocs, lambda r: r.address, "RLOC address", field="address")
    version = 0
    if "map-version" in table.data:
        version = table.integer("map-version", low=1, high=MAX_MAP_VERSION)
    dynamic = table.boolean("dynamic", False)
    for key in ("dynamic-timeout", "dynamic-limit"):
        if table.has(key) and not dynamic:
            raise table.error(key, "only for a dynamic prefix (dynamic = true)")
    mapping = DatabaseMapping(
        eid_prefix=prefix,
        rlocs=rlocs,
        map_version=version,
        dynamic=dynamic,
        dynamic_timeout=table.integer("dynamic-timeout", low=1, high=86_400, default=180),
        dynamic_limit=table.integer("dynamic-limit", low=1, high=100_000, default=1000),
    )
    table.done()
    return mapping


def read_map_server(table: Table) -> MapServerEntry:
    server = MapServerEntry(
        address=table.parsed("address", parse_address),
        auth_key=table.parsed("auth-key", non_empty),
        key_id=table.integer("key-id", low=0, high=MAX_U8, default=0),
        algorithm=table.parsed("algorithm", parse_algorithm, AuthAlgorithm.HMAC_SHA_256),
        proxy_reply=table.boolean("proxy-reply", False),
        want_map_notify=table.boolean("want-map-notify", True),
        register_ttl=table.integer("register-ttl", low=1, high=MAX_U32, default=3),
        register_interval=table.integer("register-interval", low=1, high=3600, default=60),
    )
    table.done()
    return server


def read_map_resolver(table: Table) -> MapResolverEntry:
    resolver = MapResolverEntry(address=table.parsed("address", parse_address))
    table.done()
    return resolver


def read_petr(table: Table) -> Petr:
    petr = Petr(
        address=table.parsed("address", parse_address),
        priority=read_priority_weight(table, "priority", 1),
        weight=read_priority_weight(table, "weight", 100),
    )
    table.done()
    return petr


def read_site_key(table: Table) -> SiteKey:
    key = SiteKey(
        key_id=table.integer("id", low=0, high=MAX_U8),
        key=table.parsed("key", non_empty),
        algorithm=table.parsed("algorithm", parse_algorithm, None),
    )
    table.done()
    return key


def read_site(table: Table) -> Site:
    name = table.parsed("name", matching(SITE_NAME, "site name", "1-63 of A-Z a-z 0-9 . _ -"))
    has_single, has_many = table.has("auth-key"), table.has("auth-keys")
    if has_single and has_many:
        raise table.error("auth-keys", "give auth-key or auth-keys, not both")
    if not has_single and not has_many:
        raise table.error("auth-key", "missing required key (or auth-keys)")
    if has_single:
        keys: tuple[SiteKey, ...] = (SiteKey(key_id=0, key=table.parsed("auth-key", non_empty)),)
    else:
        keys = tuple(read_site_key(t) for t in table.tables("auth-keys", required=True))
        unique(table, "auth-keys", keys, lambda k: k.key_id, "key id", field="id")
    prefixes = table.parsed_list("eid-prefixes", parse_prefix, required=True)
    unique(table, "eid-prefixes", prefixes, str, "EID prefix")
    rtrs = table.parsed_list("rtrs", parse_address)
    unique(table, "rtrs", rtrs, str, "RTR address")
    site = Site(
        name=name,
        keys=keys,
        eid_prefixes=prefixes,
        accept_more_specifics=table.boolean("accept-more-specifics", False),
        allow_overlap=table.boolean("allow-overlap", False),
        previous_key_grace=table.integer(
            "previous-key-grace", low=0, high=MAX_KEY_GRACE_S, default=0
        ),
        rtrs=rtrs,
    )
    table.done()
    return site


MAX_KEY_GRACE_S = 30 * 86_400
REPLAY_WINDOW_MIN_S = 180
REPLAY_WINDOW_MAX_S = 30 * 86_400


def read_map_server_options(table: Table | None) -> MapServerOptions:
    if table is None:
        return MapServerOptions()
    options = MapServerOptions(
        replay_window=table.integer(
            "replay-window", low=REPLAY_WINDOW_MIN_S, high=REPLAY_WINDOW_MAX_S, default=86_400
        )
    )
    table.done()
    return options


def read_etr_options(table: Table | None) -> EtrOptions:
    if table is None:
        return EtrOptions()
    options = EtrOptions(
        nat_traversal=table.parsed("nat-traversal", parse_nat_traversal, NatTraversalMode.AUTO)
    )
    table.done()
    return options


def read_itr_options(table: Table | None, *, has_petrs: bool, has_resolvers: bool) -> ItrOptions:
    if table is None:
        return ItrOptions(use_petrs=has_petrs, send_map_request_on_miss=has_resolvers)
    options = ItrOptions(
        map_cache_limit=table.integer("map-cache-limit", low=1, high=100_000_000, default=100_000),
        use_petrs=table.boolean("use-petrs", has_petrs),
        send_map_request_on_miss=table.boolean("send-map-request-on-miss", has_resolvers),
        rloc_probe_interval=table.integer("rloc-probe-interval", low=0, high=86_400, default=60),
        rloc_probe_misses=table.integer("rloc-probe-misses", low=1, high=255, default=3),
        rloc_probe_rate=table.integer("rloc-probe-rate", low=1, high=100_000, default=100),
        echo_nonce=table.boolean("echo-nonce", False),
        subscribe=table.boolean("subscribe", False),
        rloc_path_mtu=table.integer("rloc-path-mtu", low=576, high=65_535, default=1500),
    )
    if options.use_petrs and not has_petrs:
        raise table.error("use-petrs", "true, but there are no [[petrs]]")
    if options.send_map_request_on_miss and not has_resolvers:
        raise table.error("send-map-request-on-miss", "true, but there are no [[map-resolvers]]")
    table.done()
    return options


def read_pitr_options(table: Table) -> PitrOptions:
    prefixes = table.parsed_list("eid-prefixes", parse_prefix, required=True)
    unique(table, "eid-prefixes", prefixes, str, "EID prefix")
    table.done()
    return PitrOptions(eid_prefixes=prefixes)


def read_petr_options(table: Table | None) -> PetrOptions:
    if table is None:
        return PetrOptions()
    options = PetrOptions(check_source=table.boolean("check-source", False))
    table.done()
    return options


parse_engine = enum_parser(Engine, [v.value for v in Engine], "data-plane engine")


def read_data_plane(table: Table | None) -> DataPlaneOptions:
    if table is None:
        return DataPlaneOptions()
    options = DataPlaneOptions(engine=table.parsed("engine", parse_engine, Engine.AUTO))
    table.done()
    return options


def read_tun(table: Table | None, node_name: str) -> TunOptions:
    default_device = f"lisp-{node_name}"[:15]
    if table is None:
        return TunOptions(device=default_device)
    options = TunOptions(
        device=table.parsed(
            "device",
            matching(TUN_DEVICE, "device name", "1-15 characters, no / or spaces"),
            default_device,
        ),
        mtu=table.integer("mtu", low=576, high=65535, default=1400),
    )
    if options.device in (".", ".."):
        raise table.error("device", f"bad device name {options.device!r}")
    table.done()
    return options


RESERVED_TABLES = {253: "default", 254: "main", 255: "local", 4341: "the instance-id 0 table"}


def parse_table_number(number: int) -> int:
    if number in RESERVED_TABLES:
        raise ValueError(f"table {number} is reserved ({RESERVED_TABLES[number]})")
    return number


def read_instance(table: Table, tun_device: str) -> Instance:
    iid = table.integer("iid", low=1, high=MAX_IID)
    interfaces = table.parsed_list(
        "interfaces",
        matching(TUN_DEVICE, "interface name", "1-15 characters, no / or spaces"),
        required=True,
    )
    unique(table, "interfaces", interfaces, str, "interface")
    number = table.integer("table", low=1, high=MAX_U32)
    try:
        parse_table_number(number)
    except ValueError as exc:
        raise table.error("table", str(exc)) from None
    suffix = f".{iid}"
    device = table.parsed(
        "device",
        matching(TUN_DEVICE, "device name", "1-15 characters, no / or spaces"),
        tun_device[: 15 - len(suffix)] + suffix,
    )
    table.done()
    return Instance(iid=iid, interfaces=interfaces, table=number, device=device)
