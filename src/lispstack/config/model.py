"""The validated node configuration, and every key of the TOML file that builds it.

A node reads one TOML file (`lispstack run CONFIG.toml`). Unknown keys and
tables are errors, reported before anything else (every key of the file is
checked against `schema` first), so a typo never passes silently; so is a
table that no role of the node uses (e.g. `[[sites]]` on a node without
`map-server`). Every error names the file, the key path and what is wrong::

    lisp1.toml: map-servers[0].algorithm: unknown algorithm 'md5'
      (expected hmac-sha-1 or hmac-sha-256)        [on one line]
    lisp1.toml: unknown key 'nmae' in [node] (did you mean 'name'?)

Addresses are plain IPv4/IPv6 addresses ("10.0.1.1", "2001:db8::1").
EID prefixes are "192.168.1.0/24", "2001:db8::/32", or with an instance-id
(0 to 16777215) "[100]10.1.0.0/16"; the prefix length is required and host
bits must be clear.

``[node]`` (required)
    ``name``            required; ``[a-z0-9_-]``, 1 to 63 characters.
    ``roles``           required, non-empty, no duplicates; any of ``itr``,
                        ``etr``, ``map-server``, ``map-resolver``, ``pitr``, ``petr``,
                        ``ddt-node``, ``rtr`` (a Re-encapsulating Tunnel Router
                        for xTRs behind a NAT; needs ``[[map-resolvers]]``).
    ``control-socket``  path of the `lispstack show` socket;
                        default ``/run/lispstack/<name>.sock``.
    ``listen``          unique addresses to bind UDP 4342 (control) and 4341 (data)
                        on; default ``[]`` = every address (0.0.0.0 and ::).
    ``log-level``       ``debug``, ``info`` (default), ``warning`` or ``error``.
    ``log-format``      ``text`` (default): one line per record, for people; or
                        ``json``: one JSON object per line, for log shippers, with
                        ``time`` (UTC, ISO 8601), ``level``, ``node``, ``logger``,
                        ``event`` (a node event such as ``registered``,
                        else ``log``), ``message``, ``fields`` (the event's
                        key/value pairs, an object), and ``exception`` (a
                        traceback) when there is one.
    ``workers``         processes sharing the node's UDP ports (SO_REUSEPORT), 1 to
                        64; default 1. More than one only for roles map-server and
                        map-resolver: the workers replicate accepted Map-Registers
                        to each other, and `show statistics` sums their counters.
    ``metrics``         ``"ADDRESS:PORT"`` (``"[IPv6]:PORT"``): serve Prometheus
                        metrics over HTTP there (``/metrics``): every counter of
                        `show statistics`, summed across workers, as
                        ``lispstack_*_total``, gauges (registrations, map-cache
                        entries, pending Map-Requests) and the process's; default:
                        none (off). See io/metrics.py for the names.

``[[database-mappings]]`` (roles etr, itr; required by etr)
    The EID prefixes this site owns. An ITR only encapsulates packets whose
    source lies inside one of them.
    ``eid-prefix``      required; unique across the table.
    ``rlocs``           required, non-empty array of tables, addresses unique:
        ``address``     required.
        ``priority``    0-255, default 1 (255 = never use this RLOC).
        ``weight``      0-255, default 100.
        ``m-priority``  0-255, default 255.
        ``m-weight``    0-255, default 0.
    ``map-version``     optional, 1-4095 (RFC 9302): the version of this mapping,
                        put in Map-Registers, Map-Replies and the data packets
                        sourced from or sent to it (V bit); absent: none (0).
                        Give a changed mapping a newer version (4095 is
                        followed by 1).
    ``dynamic``         true: a dynamic prefix (moving EIDs). Not registered
                        itself: each host EID (/32, /128) inside it is
                        registered once the ITR sees it send from the
                        EID-facing side, and withdrawn (a Map-Register with
                        TTL 0, and SMRs) after ``dynamic-timeout`` seconds
                        without a packet, or at once when the Map-Server
                        says another xTR registered it (the host moved).
                        Default false. See core/dynamic_eids.py.
    ``dynamic-timeout`` seconds a host EID stays registered after its last
                        packet, 1 to 86400; default 180.
    ``dynamic-limit``   host EIDs registered at most, 1 to 100000; default
                        1000 (more are refused and counted:
                        ``drop.dynamic-eid-limit``).

``[[map-servers]]`` (role etr)
    Where the ETR registers its database mappings; addresses unique.
    ``address``         required.
    ``auth-key``        required, non-empty shared secret.
    ``key-id``          0-255, default 0.
    ``algorithm``       ``hmac-sha-256`` (default) or ``hmac-sha-1``.
    ``proxy-reply``     ask the Map-Server to answer for us; default false.
    ``want-map-notify`` ask for a Map-Notify for each Map-Register; default true.
    ``register-ttl``    record TTL sent in Map-Registers, minutes, 1 to
                        4294967295; default 3.
    ``register-interval`` seconds between Map-Registers, 1 to 3600; default 60.

``[[map-resolvers]]`` (roles itr, pitr, rtr)
    Where Map-Requests go (in an ECM); addresses unique.
    ``address``         required.

``[[petrs]]`` (role itr)
    Proxy ETRs that take packets the ITR has no LISP mapping for; addresses
    unique.
    ``address``         required.
    ``priority``        0-255, default 1.
    ``weight``          0-255, default 100.

``[itr]`` (role itr, optional)
    ``map-cache-limit`` maximum map-cache entries, 1 to 100000000; default 100000.
    ``use-petrs``       encapsulate to a PETR the packets that would otherwise
                        be forwarded natively (negative map-cache entries,
                        and misses when no Map-Request is sent); default
                        true when ``[[petrs]]`` is present, else false; true
                        without ``[[petrs]]`` is an error.
    ``send-map-request-on-miss``  send a Map-Request on a map-cache miss;
                        default true when ``[[map-resolvers]]`` is present,
                        else false; true without ``[[map-resolvers]]`` is an error.
    ``rloc-probe-interval``  seconds between RLOC probes of a cached mapping in
                        use (RFC 9301 section 7.1; up to 10 % less, jitter),
                        0 to 86400, 0 = no probing; default 60.
    ``rloc-probe-misses``  probes missed in a row that make an RLOC unreachable
                        (it leaves the load-split until a probe is answered),
                        1 to 255; default 3.
    ``rloc-probe-rate`` at most this many probes per second, evenly spaced
                        (never a burst), 1 to 100000; default 100.
    ``echo-nonce``      echo-nonce reachability on active flows (RFC 9300
                        section 10.1): about once a second per RLOC in use a
                        data packet asks for its nonce back (E bit); the echo
                        confirms the RLOC as an answered probe would, none
                        within 3 s makes the ITR probe it; the ETR side
                        echoes the nonces other ITRs ask for; default false.
                        Needs the TUN engine (refused with engine "ebpf").
    ``subscribe``       publish/subscribe (RFC 9437): Map-Requests carry the N
                        bit and the node's xTR-ID, and the Map-Server sends a
                        signed Map-Notify with the new mapping whenever it
                        changes; default false. Needs role etr and
                        ``[[map-servers]]``: the Map-Server knows a subscriber
                        by the xTR-ID it registers with, and signs with that
                        site's key.
    ``rloc-path-mtu``   the largest encapsulated packet (outer IP header
                        included) sent towards an RLOC without fragmentation
                        (L of RFC 9300 section 7.1), 576 to 65535; default
                        1500. An inner packet that does not fit with the
                        LISP headers (IPv4 outer: 36 bytes, IPv6: 56) is
                        split into IPv4 fragments when it is IPv4 without DF;
                        otherwise it is dropped and its source gets an ICMPv4
                        Fragmentation Needed / ICMPv6 Packet Too Big naming
                        the size that fits ("icmp-too-big-sent"). Also used
                        by a PITR.
    An ITR needs ``[[map-resolvers]]`` or ``[[petrs]]``.

``[etr]`` (role etr, optional)
    ``nat-traversal``   ``auto`` (default) or ``off``. Auto: the ETR sends
                        Info-Requests to its Map-Servers at start and every
                        ``register-interval`` (keeping a NAT binding alive);
                        when the Info-Reply shows a global RLOC other than the
                        ETR's own, it registers through the RTRs the reply
                        names (ECM Map-Register with xTR-ID and site-ID, the
                        RTRs as RLOCs, proxy-reply set) and encapsulates to
                        them. Not behind a NAT: nothing else changes.

``[pitr]`` (role pitr, required by it)
    ``eid-prefixes``    required, non-empty, unique: the EID prefixes the PITR
                        attracts traffic for (advertises to the non-LISP side);
                        ``"[IID]..."`` for one of a non-zero instance-id,
                        attracted in that ``[[instances]]`` domain.
    A PITR also needs ``[[map-resolvers]]``.

``[petr]`` (role petr, optional)
    ``check-source``    decapsulate only packets whose outer source is an
                        RLOC of a known mapping; default false.

``[[sites]]`` (role map-server, required by it)
    Who may register what; names unique, an EID prefix in one site only,
    and no EID prefix inside another site's unless ``allow-overlap`` says so.
    ``name``            required; letters, digits, ``.``, ``_``, ``-``.
    ``auth-key``        one key: key-id 0, either algorithm.
    ``auth-keys``       several keys (instead of ``auth-key``; one of the two
                        is required), key ids unique:
        ``id``          required, 0-255.
        ``key``         required, non-empty.
        ``algorithm``   ``hmac-sha-1`` or ``hmac-sha-256``; default: either.
    ``eid-prefixes``    required, non-empty, unique.
    ``accept-more-specifics``  accept registrations of prefixes inside the
                        site's; default false.
    ``allow-overlap``   this site's EID prefixes may lie inside another site's
                        (a more-specific the other site delegates to this one:
                        registrations and Map-Requests inside it go to this
                        site, the most specific); default false, which makes
                        such an overlap a config error naming both sites.
    ``previous-key-grace``  seconds during which, after a live reload
                        (`lispstack reload`, SIGHUP) changed one of the site's
                        keys, the key it replaced (same key id) is still
                        accepted, so that ETRs can move to the new key one by
                        one; 0 to 2592000, default 0 (the old key is refused
                        at once).
    ``rtrs``            addresses of the RTRs an ETR of this site behind a NAT
                        must use, unique; sent in the Info-Reply (NAT-Traversal
                        LCAF) to an Info-Request signed with the site's key;
                        default ``[]``.

``[map-server]`` (role map-server, optional)
    ``replay-window``   seconds during which a Map-Register whose nonce the
                        same site and ETR (xTR-ID, else source address) used
                        in an accepted Map-Register is refused as a replay;
                        180 to 2592000 (30 days), default 86400 (24 hours).
                        Nonces are kept in bounded memory (see
                        core/replay_window.py): at most 65,536 per ETR and
                        8,388,608 in all, past which the oldest are
                        forgotten early (counted as replay-window.shortened).

``[[ddt-prefixes]]`` (role ddt-node, required by it)
    The EID prefixes this LISP-DDT node (RFC 8111) is authoritative for:
    a DDT Map-Request for an EID inside none of them gets NOT-AUTHORITATIVE.
    ``eid-prefix``      required; unique across the table.

``[[delegations]]`` (role ddt-node)
    The parts of the authoritative prefixes handed down to children; an EID
    in an authoritative prefix but in no delegation gets DELEGATION-HOLE.
    ``eid-prefix``      required, unique, inside one of ``[[ddt-prefixes]]``.
    ``kind``            ``node`` (default: the children are DDT nodes, answered
                        with NODE-REFERRAL) or ``map-server`` (the children
                        are Map-Servers, answered with MS-REFERRAL).
    ``ttl``             referral TTL in minutes, 1 to 4294967295; default 1440.
    ``children``        required, non-empty array of tables, addresses unique:
        ``address``     required.
        ``priority``    0-255, default 1.
        ``weight``      0-255, default 100.

``[[ddt-roots]]`` (role map-resolver)
    LISP-DDT root nodes: with them, the Map-Resolver resolves by walking
    Map-Referrals from these roots (core/ddt_resolver.py) instead of answering
    from its own Map-Server; addresses unique.
    ``address``         required.

``[tun]`` (roles itr, etr, pitr, petr, optional)
    ``device``          TUN device name, 1-15 characters, no ``/`` or
                        whitespace; default ``lisp-<name>`` cut to 15 characters.
    ``mtu``             576 to 65535; default 1400.

``[data-plane]`` (roles itr, etr, pitr, petr, optional)
    ``engine``          ``"auto"`` (default), ``"ebpf"`` or ``"tun"``: which
                        data plane carries packets. ``"ebpf"``: tc programs in
                        the kernel encapsulate (TUN egress) and decapsulate
                        (ingress of the RLOC interfaces), the Python xTR is
                        their slow path (misses, what they leave to it);
                        the node does not start when the kernel refuses
                        them. ``"tun"``: the Python xTR carries every packet.
                        ``"auto"``: eBPF where the kernel loads the programs,
                        else TUN, with one log line saying why.

``[[instances]]`` (roles itr, etr, pitr, petr, optional)
    One routing domain per non-zero instance-id (a tenant, a VPN): EID
    prefixes ``[IID]...`` of ``[[database-mappings]]`` and ``[pitr]
    eid-prefixes`` need one, and two tenants may use the same EID prefix.
    A PETR delivers the packets of the instance-ids it has one for into
    their domains, and drops the others (``drop.petr-instance-id``).
    Instance-id 0 needs none: it is the main routing table, as without
    ``[[instances]]``. Each instance has its own TUN device; policy rules
    send what arrives on its interfaces, and what its TUN delivers
    (decapsulated packets of that instance-id), to its routing table, which
    holds the routes of its interfaces (copied from the main table at
    start), a default route into its TUN and, on a PITR, a route into its
    TUN for each of its ``[pitr] eid-prefixes``.
    ``iid``             required, 1 to 16777215, unique.
    ``interfaces``      required, non-empty: the EID-facing interfaces that
                        belong to this instance; an interface in one instance only.
    ``table``           required, the instance's routing table number,
                        1 to 4294967295, unique, not 253-255 (default, main,
                        local) nor 4341 (the instance-id 0 table).
    ``device``          its TUN device name (as ``[tun].device``); default
                        ``[tun].device`` cut to leave room for ``.<iid>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath

from lispstack.config.prefix import ConfigPrefix, IPAddress


class NodeRole(StrEnum):
    """A role a node can play; the value is how the config file spells it."""

    ITR = "itr"
    ETR = "etr"
    MAP_SERVER = "map-server"
    MAP_RESOLVER = "map-resolver"
    PITR = "pitr"
    PETR = "petr"
    DDT_NODE = "ddt-node"
    RTR = "rtr"


class AuthAlgorithm(StrEnum):
    """Map-Register / Map-Notify authentication, as the config file spells it."""

    HMAC_SHA_1 = "hmac-sha-1"
    HMAC_SHA_256 = "hmac-sha-256"

    @property
    def algorithm_id(self) -> int:
        """The RFC 9301 Algorithm ID: 1 = HMAC-SHA-1-96, 2 = HMAC-SHA-256-128."""
        return 1 if self is AuthAlgorithm.HMAC_SHA_1 else 2


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """An address and TCP port to serve on (`metrics`)."""

    address: IPAddress
    port: int

    def __str__(self) -> str:
        if self.address.version == 6:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSection:
    name: str
    roles: tuple[NodeRole, ...]
    control_socket: PurePosixPath
    listen: tuple[IPAddress, ...] = ()
    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = LogFormat.TEXT
    workers: int = 1
    metrics: ListenAddress | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rloc:
    address: IPAddress
    priority: int = 1
    weight: int = 100
    m_priority: int = 255
    m_weight: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseMapping:
    eid_prefix: ConfigPrefix
    rlocs: tuple[Rloc, ...]
    map_version: int = 0
    """RFC 9302; 0: none."""
    dynamic: bool = False
    dynamic_timeout: int = 180
    dynamic_limit: int = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class MapServerEntry:
    address: IPAddress
    auth_key: str
    key_id: int = 0
    algorithm: AuthAlgorithm = AuthAlgorithm.HMAC_SHA_256
    proxy_reply: bool = False
    want_map_notify: bool = True
    register_ttl: int = 3
    register_interval: int = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class MapResolverEntry:
    address: IPAddress


@dataclass(frozen=True, slots=True, kw_only=True)
class Petr:
    address: IPAddress
    priority: int = 1
    weight: int = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteKey:
    """One site key; `algorithm` None means the Map-Server accepts either algorithm."""

    key_id: int
    key: str
    algorithm: AuthAlgorithm | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    name: str
    keys: tuple[SiteKey, ...]
    eid_prefixes: tuple[ConfigPrefix, ...]
    accept_more_specifics: bool = False
    allow_overlap: bool = False
    previous_key_grace: int = 0
    rtrs: tuple[IPAddress, ...] = ()

    def key(self, key_id: int) -> SiteKey | None:
        """The key with this key id, or None."""
        return next((k for k in self.keys if k.key_id == key_id), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class MapServerOptions:
    replay_window: int = 86_400


class NatTraversalMode(StrEnum):
    """`[etr] nat-traversal`, as the config file spells it."""

    AUTO = "auto"
    OFF = "off"


@dataclass(frozen=True, slots=True, kw_only=True)
class EtrOptions:
    nat_traversal: NatTraversalMode = NatTraversalMode.AUTO


@dataclass(frozen=True, slots=True, kw_only=True)
class ItrOptions:
    map_cache_limit: int = 100_000
    use_petrs: bool = False
    send_map_request_on_miss: bool = True
    rloc_probe_interval: int = 60
    rloc_probe_misses: int = 3
    rloc_probe_rate: int = 100
    echo_nonce: bool = False
    subscribe: bool = False
    rloc_path_mtu: int = 1500


@dataclass(frozen=True, slots=True, kw_only=True)
class PitrOptions:
    eid_prefixes: tuple[ConfigPrefix, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PetrOptions:
    check_source: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TunOptions:
    device: str
    mtu: int = 1400


class Engine(StrEnum):
    """`[data-plane] engine`: which data plane carries packets."""

    AUTO = "auto"
    EBPF = "ebpf"
    TUN = "tun"


@dataclass(frozen=True, slots=True, kw_only=True)
class DataPlaneOptions:
    engine: Engine = Engine.AUTO


class DelegationKind(StrEnum):
    """What a delegation's children are, as the config file spells it."""

    NODE = "node"
    MAP_SERVER = "map-server"


DEFAULT_REFERRAL_TTL = 1440
"""Minutes: RFC 8111's default TTL of a NODE-REFERRAL or MS-REFERRAL (24 hours)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DelegationChild:
    address: IPAddress
    priority: int = 1
    weight: int = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class Delegation:
    eid_prefix: ConfigPrefix
    children: tuple[DelegationChild, ...]
    kind: DelegationKind = DelegationKind.NODE
    ttl: int = DEFAULT_REFERRAL_TTL


@dataclass(frozen=True, slots=True, kw_only=True)
class DdtRoot:
    address: IPAddress


@dataclass(frozen=True, slots=True, kw_only=True)
class Instance:
    """A non-zero instance-id's routing domain on an xTR."""

    iid: int
    interfaces: tuple[str, ...]
    table: int
    device: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """One node's whole configuration. Sections a role does not use hold their defaults."""

    node: NodeSection
    tun: TunOptions
    database_mappings: tuple[DatabaseMapping, ...] = ()
    map_servers: tuple[MapServerEntry, ...] = ()
    map_resolvers: tuple[MapResolverEntry, ...] = ()
    petrs: tuple[Petr, ...] = ()
    sites: tuple[Site, ...] = ()
    map_server: MapServerOptions = MapServerOptions()
    itr: ItrOptions = ItrOptions()
    etr: EtrOptions = EtrOptions()
    pitr: PitrOptions = PitrOptions()
    petr: PetrOptions = PetrOptions()
    instances: tuple[Instance, ...] = ()
    data_plane: DataPlaneOptions = DataPlaneOptions()
    ddt_prefixes: tuple[ConfigPrefix, ...] = ()
    delegations: tuple[Delegation, ...] = ()
    ddt_roots: tuple[DdtRoot, ...] = ()
    source: str = field(default="", compare=False)
    """The file (or name) the configuration was read from; not part of equality."""

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def roles(self) -> tuple[NodeRole, ...]:
        return self.node.roles

    def has_role(self, role: NodeRole | str) -> bool:
        """True if the node plays `role` (a NodeRole or its spelling, e.g. "map-server")."""
        return role in self.node.roles
