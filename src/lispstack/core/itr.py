"""The Ingress Tunnel Router role (RFC 9300 / RFC 9301): packets from the TUN device in.

handle_tun(packet): a packet sourced from our EID space (or, on a Proxy-ITR,
sent to an attracted EID prefix) is looked up in the map-cache, and
core.forwarding.decide says what to do (`explain` reads the same table):
  positive entry             -> SendDatagram to RLOC:4341 ("encap.packets"); an
                                inner packet too big for `rloc-path-mtu`: IPv4
                                fragments, or an ICMP too-big (core.path_mtu)
  natively-forward entry     -> ForwardNatively, or encapsulate to a PETR
  drop-action entry          -> counted drop ("drop.map-cache-<action>")
  miss / send-map-request    -> ECM Map-Request to a Map-Resolver, packet queued
                                (without one: a PETR, else a drop)
  anything else              -> ForwardNatively ("native.not-eid-source")
handle_control(Map-Reply): the nonce must match an outstanding request, and
reply_check picks the one record that may be cached (core.reply_check);
queued packets leave. A Map-Reply with the P bit answers an RLOC probe.
handle_control(SMR, a Map-Request with the S bit): an SMR-invoked Map-Request
for the cached mapping goes through the Map-Resolver (never a Map-Reply, never
to the SMR's source); its answer replaces the entry (RFC 9301 section 6.1).
handle_publication(Map-Notify of a subscription, RFC 9437, `[itr] subscribe`):
core.subscriber says whether to believe it; its records replace the cached
entries at once and a signed Map-Notify-Ack answers it.
on_timer: Map-Request retransmits / failover, map-cache expiry, RLOC probes
(core.rloc_probe: unreachable RLOCs leave the load-split at once).
Native routes (InstallNativeRoute / RemoveNativeRoute) follow the map-cache's
native-route standing (core.xtr_cache), unless PETRs take native traffic.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

from lispstack.config.model import NodeConfig
from lispstack.core.counters import Counters, instance_counter
from lispstack.core.drops import DropRecorder
from lispstack.core.echo_nonce import EchoNonce
from lispstack.core.encapsulation import (
    UNUSABLE_PRIORITY,
    RlocChoice,
    choose_rloc,
    data_header,
    flow_hash,
    inner_ints,
    petr_choices,
    source_port,
    versioned_header,
)
from lispstack.core.events import (
    CONTROL_PORT,
    DATA_PORT,
    Action,
    DatagramReceived,
    Endpoint,
    ForwardNatively,
    InstallNativeRoute,
    IPAddress,
    LocalRlocsChanged,
    RemoveNativeRoute,
    SendDatagram,
    Trace,
    WriteToTun,
)
from lispstack.core.forwarding import (
    NOT_EID_SOURCE,
    EntryKind,
    ForwardingDecision,
    Step,
    Verdict,
    decide,
)
from lispstack.core.local_eids import LocalEids
from lispstack.core.map_versioning import announces_newer
from lispstack.core.path_mtu import (
    DEFAULT_RLOC_PATH_MTU,
    OUTER_OVERHEAD,
    TooBigLimiter,
    dont_fragment,
    fragment_ipv4,
    may_answer,
    too_big,
)
from lispstack.core.reply_check import ReplyCheck, covering_record
from lispstack.core.resolver_client import PendingRequest, RequestToSend, ResolverClient
from lispstack.core.rloc_probe import (
    DEFAULT_INTERVAL,
    DEFAULT_MISSES,
    DEFAULT_RATE,
    ReachabilityChange,
    RlocProber,
)
from lispstack.core.role import Role
from lispstack.core.subscriber import NotifyNonce, Subscriber
from lispstack.core.xtr_cache import (
    CacheEntry,
    Changes,
    EntryKey,
    XtrCache,
    parse_eid,
    record_key,
    ttl_seconds,
)
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.prefix_table import PrefixTable
from lispstack.wire.address import NO_ADDRESS, Address, split_instance_id, with_instance_id
from lispstack.wire.control import ControlMessage
from lispstack.wire.data_header import echo_request_header
from lispstack.wire.ecm import Ecm
from lispstack.wire.errors import DecodeError
from lispstack.wire.ip_udp import ipv4_udp_unchecked
from lispstack.wire.map_notify import MapNotify, MapNotifyAck
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.message_type import MessageType, nonce_text
from lispstack.wire.records import SUBSCRIBE_BIT, EidRecord, MappingRecord, MapReplyAction

MAX_UNSUBSCRIBE = 1000
"""At shutdown, withdraw at most this many subscriptions (the others expire)."""
REFRESH_BEFORE_S = 60.0
"""Refresh a used entry this long (at most 10 % of its TTL) before it expires."""
NOT_ELIGIBLE = -1
"""`Itr.admit`: the packet is not the ITR's to resolve; it leaves natively."""
PROXIED = -2
"""`Itr.admit`: a Proxy-ITR's packet towards an EID prefix it attracts in the instance-id
of the packet's TUN (its routing domain)."""
_ENCAPSULATE, _TO_PETR, _NATIVE, _MAP_REQUEST = (
    Step.ENCAPSULATE,
    Step.TO_PETR,
    Step.NATIVE,
    Step.MAP_REQUEST,
)


def _address(version: int, value: int) -> IPAddress:
    return IPv4Address(value) if version == 4 else IPv6Address(value)


class Itr(Role):
    name = "itr"
    control_types = frozenset({MessageType.MAP_REPLY, MessageType.MAP_REQUEST})
    """Map-Requests are SMRs; on an xTR the ETR owns them and hands SMRs on (`handle_smr`)."""
    handles_tun = True

    def __init__(
        self,
        *,
        local: LocalEids,
        map_resolvers: Sequence[IPAddress],
        counters: Counters,
        drops: DropRecorder,
        rng: random.Random,
        map_cache_limit: int = 100_000,
        send_map_request_on_miss: bool = True,
        petrs: Sequence[RlocChoice] = (),
        attracted: Sequence[EidPrefix] = (),
        reply_check: ReplyCheck = covering_record,
        rloc_probe_interval: float = DEFAULT_INTERVAL,
        rloc_probe_misses: int = DEFAULT_MISSES,
        rloc_probe_rate: float = DEFAULT_RATE,
        echo_nonce: bool = False,
        rloc_path_mtu: int = DEFAULT_RLOC_PATH_MTU,
    ) -> None:
        self.local = local
        self.counters = counters
        self.drops = drops
        self.rng = rng
        self.cache = XtrCache(map_cache_limit)
        self.client = ResolverClient(map_resolvers, rng)
        self.reply_check = reply_check
        self.echo = EchoNonce(rng) if echo_nonce else None
        """`[itr] echo-nonce` (core.echo_nonce); fixed at start (the ETR's hooks too)."""
        self.prober = RlocProber(
            rng, interval=rloc_probe_interval, misses=rloc_probe_misses, rate=rloc_probe_rate
        )
        self._families = local.families
        self.petrs = tuple(petrs)
        """Where natively-forward traffic goes, encapsulated, when the provider filters EIDs."""
        # A Proxy-ITR (RFC 6832) encapsulates non-LISP traffic towards these EID prefixes.
        self.attracted: PrefixTable[bool] = PrefixTable()
        for prefix in attracted:
            self.attracted[prefix] = True
        self.proxy = bool(attracted)
        self._versioned = any(p.mapping.map_version for p in local.prefixes)
        """Some database mapping of ours has a map-version (RFC 9302): packets carry it."""
        self.subscriber: Subscriber | None = None
        """Set (core.xtr) when `[itr] subscribe`: Map-Requests then subscribe (RFC 9437)."""
        self.on_local_source: Callable[[int, int, int, float], list[Action]] | None = None
        """The node's ETR's `saw_local_source` (core.xtr wires it): each packet's source
        EID, for moving EIDs; None on an ITR without an ETR."""
        self._decide_steps(send_map_request_on_miss)
        self._set_path_mtu(rloc_path_mtu)
        self._too_big_limiter = TooBigLimiter()
        self._rloc_bytes: dict[IPAddress, tuple[bytes, str]] = {}

    def _set_path_mtu(self, rloc_path_mtu: int) -> None:
        self._room = {v: rloc_path_mtu - overhead for v, overhead in OUTER_OVERHEAD.items()}
        """The largest inner packet encapsulated whole, by outer IP version (S = L - H)."""

    def _decide_steps(self, send_map_request_on_miss: bool) -> None:
        rule = {
            "map_request_on_miss": send_map_request_on_miss and bool(self.client.resolvers),
            "petrs": bool(self.petrs),
        }
        self._steps = tuple(decide(kind, **rule) for kind in EntryKind)
        """The step for a map-cache hit, indexed by the entry's kind."""
        self._miss_step = decide(None, **rule)

    def step_for(self, entry: CacheEntry) -> tuple[Step, Sequence[RlocChoice], int]:
        """What `handle_tun` does for a hit on `entry`: the step, and the RLOCs and
        locator-status-bits an encapsulation uses (for a kernel data plane's map-cache)."""
        step = self._steps[entry.kind]
        lsb = self.local.site_lsb(entry.iid)
        if step is _TO_PETR:
            return step, self.petrs, lsb
        return step, entry.rlocs, lsb

    def carries_map_versions(self, entry: CacheEntry) -> bool:
        """Packets to `entry` carry map-versions (RFC 9302: ours, or its), which only
        `handle_tun` writes: the one-call path and a kernel data plane leave them to it."""
        return self._versioned or bool(entry.record.map_version)

    def used_in_kernel(self, key: EntryKey, now: float) -> list[Action]:
        """A kernel data plane encapsulated with entry `key` since it last said so: the
        entry is in use (RLOC probing, the LRU bound), refreshed before it expires."""
        entry = self.cache.touch(key, now)
        if entry is None:
            return []
        iid, version, network, _ = key
        source = next(
            (p.network + 1 for p in self.local.prefixes if p.iid == iid and p.version == version),
            network,
        )
        return self._maybe_refresh(entry, version, source, network, now)

    def local_rlocs_changed(self, change: LocalRlocsChanged, now: float) -> list[Action]:
        """Our own RLOCs that went down are no ITR-RLOC, source address or locator-status
        bit of ours any more (core.local_eids); the kernel map-cache's bits follow."""
        before = self.local.down
        self.local = self.local.with_usable(change.usable)
        if self.local.down != before and self.cache.changed is not None:
            self.cache.changed.update(entry.key for entry in self.cache.entries())
        return []

    def reconfigure(self, config: NodeConfig, now: float) -> list[Action]:
        """New database mappings, Map-Resolvers or PETRs; the map-cache stays."""
        self.local = self.local.with_mappings(config.database_mappings)
        self._families = self.local.families
        self._versioned = any(p.mapping.map_version for p in self.local.prefixes)
        self.client.resolvers = tuple(r.address for r in config.map_resolvers)
        self.petrs = tuple(petr_choices(config))
        self._decide_steps(config.itr.send_map_request_on_miss)
        self._set_path_mtu(config.itr.rloc_path_mtu)
        return []

    # ------------------------------------------------------------ data path

    def encapsulate_ipv4(self, packet: bytes, iid: int, now: float) -> tuple[bytes, str] | None:
        """`handle_tun` for the common packet, in one step: the whole outer packet and the
        RLOC to send it to (as text), or None when `handle_tun` must take the packet.

        The common packet is IPv4 from one of our EIDs of `iid` to a positive
        map-cache entry not due for a refresh, whose RLOC is IPv4 and which fits
        `rloc-path-mtu`. The outer packet is what the edge would build from
        handle_tun's SendDatagram (ipv4_udp_unchecked: DF, checksums left to
        the kernel), with the same nonce draw and the same counter; the
        daemon counts "out.datagrams" as for any SendDatagram. A test runs
        both paths on twin ITRs and compares the bytes and the counters.
        """
        if len(packet) < 20 or packet[0] >> 4 != 4:
            return None
        src = int.from_bytes(packet[12:16])
        ours = self.local.lookup(iid, 4, src)
        if ours is None or ours.mapping.dynamic:  # a dynamic host's packets: on_local_source
            return None
        entry = self.cache.lookup(iid, 4, int.from_bytes(packet[16:20]), now)
        if (
            entry is None
            or self._steps[entry.kind] is not _ENCAPSULATE
            or (not entry.refreshing and entry.expires - now <= REFRESH_BEFORE_S)
            or len(packet) > self._room[4]
            or self.carries_map_versions(entry)
        ):
            return None
        hash_value = flow_hash(packet)
        rloc = choose_rloc(entry.rlocs, hash_value, self._families)
        own = self.local.rloc_for.get(4)
        if rloc is None or own is None or rloc.address.version != 4:
            return None
        destination = self._rloc_bytes.get(rloc.address)
        if destination is None:
            destination = self._remember_rloc(rloc.address)
        self.counters.add("encap.packets")
        self.counters.add(instance_counter(iid, "encapsulated"))
        if self.echo is None:
            header = data_header(self.rng.getrandbits(24), ours.lsb, iid)
        else:
            header = self._echo_header(rloc.address, ours.lsb, iid, now)
        outer = ipv4_udp_unchecked(
            own.packed, destination[0], source_port(hash_value), DATA_PORT, header + packet
        )
        return outer, destination[1]

    def _remember_rloc(self, address: IPAddress) -> tuple[bytes, str]:
        """An RLOC's packed address and text, kept (at most 4096 RLOCs, then afresh)."""
        if len(self._rloc_bytes) >= 4096:
            self._rloc_bytes.clear()
        known = self._rloc_bytes[address] = (address.packed, str(address))
        return known

    def handle_tun(self, packet: bytes, now: float, instance: int = 0) -> list[Action]:
        """`instance`: the instance-id of the TUN the packet came from (its routing domain)."""
        try:
            version, src, dst = inner_ints(packet)
        except DecodeError as error:
            return list(self.drops.drop("tun-malformed", "tun", now, str(error)))
        iid = self.admit(version, src, dst, instance)
        if iid == NOT_ELIGIBLE:
            if instance != 0:  # the main table is another domain: never leak into it
                reason, source = "instance-not-eid-source", f"[{instance}]"
                return list(self.drops.drop(reason, source, now, iid=instance))
            self.counters.add("native.not-eid-source")
            return [ForwardNatively(packet)]
        if iid == PROXIED:
            self.counters.add("pitr.packets")
            iid = instance
        elif self.on_local_source is not None:
            learned = self.on_local_source(iid, version, src, now)
            if learned:
                return learned + self._forward(packet, iid, version, src, dst, now)
        return self._forward(packet, iid, version, src, dst, now)

    def admit(self, version: int, src: int | None, dst: int, iid: int = 0) -> int:
        """The instance-id to resolve `dst` in (that of the packet's TUN, when its
        source is one of that instance's EIDs), or NOT_ELIGIBLE, or PROXIED."""
        if src is not None and self.local.lookup(iid, version, src) is not None:
            return iid
        if self.proxy and self.attracted.lookup(iid, _address(version, dst)) is not None:
            return PROXIED
        return NOT_ELIGIBLE

    def _forward(
        self,
        packet: bytes,
        iid: int,
        version: int,
        src: int,
        dst: int,
        now: float,
        answer: CacheEntry | None = None,
    ) -> list[Action]:
        """Look `dst` up and take the step for it (`answer`: a TTL-0 reply's uncached entry)."""
        entry = self.cache.lookup(iid, version, dst, now)
        if entry is not None:
            actions = self._maybe_refresh(entry, version, src, dst, now)
            step = self._steps[entry.kind]
        elif answer is not None:  # not cached: nothing to refresh
            actions, entry, step = [], answer, self._steps[answer.kind]
        else:
            self.counters.add("map-cache.miss")
            actions, step = [], self._miss_step
        if step is _ENCAPSULATE and entry is not None:
            versions = None
            if self.carries_map_versions(entry):
                versions = (self._source_version(iid, version, src), entry.record.map_version)
            lsb = self._own_lsb(iid, version, src)
            actions += self._encapsulate(
                packet, iid, entry.rlocs, lsb, entry.prefix_text, now, versions
            )
        elif step is _TO_PETR:
            self.counters.add("encap.to-petr")
            lsb = self._own_lsb(iid, version, src)
            actions += self._encapsulate(packet, iid, self.petrs, lsb, "PETR", now)
        elif step is _NATIVE and iid == 0:  # an instance has no native path out of its domain
            self.counters.add("native.negative-entry")
            actions.append(ForwardNatively(packet))
        elif step is _MAP_REQUEST:
            actions += self._request(packet, iid, version, src, dst, now)
        elif entry is None:
            destination = str(_address(version, dst))
            actions += self._drop_for("map-cache-miss", iid, version, src, destination, now)
        else:
            reason = f"map-cache-{entry.action.label}"
            actions += self.drops.drop(reason, entry.prefix_text, now, iid=iid)
        return actions

    def _own_lsb(self, iid: int, version: int, src: int) -> int:
        """Our site's locator-status-bits for a packet from `src` (a proxy's: not ours)."""
        ours = self.local.lookup(iid, version, src)
        return self.local.site_lsb(iid) if ours is None else ours.lsb

    def _drop_for(
        self, reason: str, iid: int, version: int, src: int, destination: str, now: float
    ) -> list[Action]:
        """A per-destination drop, logged per source: a scan must not log once per address."""
        source = str(_address(version, src))
        return list(self.drops.drop(reason, source, now, f"to {destination}", iid))

    def _encapsulate(
        self,
        packet: bytes,
        iid: int,
        rlocs: Sequence[RlocChoice],
        lsb: int,
        label: str,
        now: float,
        versions: tuple[int, int] | None = None,
    ) -> list[Action]:
        """`versions`: (source, destination) map-versions to send instead of a nonce."""
        hash_value = flow_hash(packet)
        rloc = choose_rloc(rlocs, hash_value, self._families)
        if rloc is None:
            return list(self.drops.drop("no-usable-rloc", label, now, iid=iid))
        if len(packet) > self._room[rloc.address.version]:
            return self._too_big(packet, iid, rloc, hash_value, lsb, label, now, versions)
        self.counters.add("encap.packets")
        self.counters.add(instance_counter(iid, "encapsulated"))
        return [self._datagram(packet, iid, rloc, hash_value, lsb, versions, now)]

    def _datagram(
        self,
        packet: bytes,
        iid: int,
        rloc: RlocChoice,
        hash_value: int,
        lsb: int,
        versions: tuple[int, int] | None,
        now: float,
    ) -> SendDatagram:
        if versions is not None:
            header = versioned_header(*versions, lsb, iid)
        elif self.echo is None:
            header = data_header(self.rng.getrandbits(24), lsb, iid)
        else:
            header = self._echo_header(rloc.address, lsb, iid, now)
        return SendDatagram(
            header + packet,
            Endpoint(rloc.address, DATA_PORT),
            source_port(hash_value),
            self.local.rloc_for[rloc.address.version],
        )

    def _echo_header(self, rloc: IPAddress, lsb: int, iid: int, now: float) -> bytes:
        """The data header with echo-nonce on: an owed echo, a request, or a fresh nonce."""
        assert self.echo is not None
        nonce = self.echo.next_nonce(rloc, now)
        if not nonce.echo_request:
            return data_header(nonce.nonce, lsb, iid)
        self.counters.add("echo-nonce.request")
        return echo_request_header(nonce.nonce, lsb, iid)

    def _too_big(
        self,
        packet: bytes,
        iid: int,
        rloc: RlocChoice,
        hash_value: int,
        lsb: int,
        label: str,
        now: float,
        versions: tuple[int, int] | None,
    ) -> list[Action]:
        """RFC 9300 section 7.1: fragment an IPv4 packet without DF, else drop it and
        tell its source (rate-limited) how big a packet fits."""
        room = self._room[rloc.address.version]
        if not dont_fragment(packet):
            fragments = fragment_ipv4(packet, room)
            self.counters.add("encap.inner-fragmented")
            self.counters.add("encap.packets", len(fragments))
            self.counters.add(instance_counter(iid, "encapsulated"), len(fragments))
            return [self._datagram(f, iid, rloc, hash_value, lsb, versions, now) for f in fragments]
        actions: list[Action] = list(
            self.drops.drop("too-big", label, now, f"{len(packet)} bytes, at most {room}", iid)
        )
        if not may_answer(packet):
            return actions
        if not self._too_big_limiter.allow(now):
            self.counters.add("icmp-too-big-rate-limited")
            return actions
        self.counters.add("icmp-too-big-sent")
        actions.append(WriteToTun(too_big(packet, room), iid))
        return actions

    def _source_version(self, iid: int, version: int, src: int) -> int:
        """The map-version of our database mapping holding the packet's source (0: none)."""
        prefix = self.local.lookup(iid, version, src)
        return 0 if prefix is None else prefix.mapping.map_version

    def source_version_seen(
        self, iid: int, source: IPAddress, version: int, now: float
    ) -> list[Action]:
        """A data packet from `source` announced map-version `version` (RFC 9302): newer
        than the cached mapping's, ask the mapping system again (at most one outstanding
        request per EID, as for an SMR)."""
        entry = self.cache.find(iid, source, now)
        if entry is None or not announces_newer(version, entry.record.map_version):
            return []
        outcome = self.client.on_miss((iid, source), None, None, now, refresh=True)
        if outcome.request is None:
            return []  # already asking
        self.counters.add("out.map-request.map-version")
        fields = {"eid": entry.prefix_text, "cached": entry.record.map_version, "seen": version}
        return [Trace("map-version-newer", fields), *self._send_request(outcome.request, now)]

    def _request(
        self, packet: bytes, iid: int, version: int, src: int, dst: int, now: float
    ) -> list[Action]:
        destination = _address(version, dst)
        outcome = self.client.on_miss((iid, destination), _address(version, src), packet, now)
        actions: list[Action] = []
        if outcome.request is not None:
            actions.extend(self._send_request(outcome.request, now))
        if outcome.drop_reason is not None:
            reason = outcome.drop_reason
            actions.extend(self._drop_for(reason, iid, version, src, str(destination), now))
        return actions

    def _maybe_refresh(
        self, entry: CacheEntry, version: int, src: int, dst: int, now: float
    ) -> list[Action]:
        if entry.refreshing or entry.expires - now > REFRESH_BEFORE_S:  # the common case
            return []
        window = min(REFRESH_BEFORE_S, ttl_seconds(entry.record) / 10)
        if entry.expires - now > window:
            return []
        entry.refreshing = True
        outcome = self.client.on_miss(
            (entry.iid, _address(version, dst)), _address(version, src), None, now, refresh=True
        )
        if outcome.request is None:
            return []
        self.counters.add("out.map-request.refresh")
        return self._send_request(outcome.request, now)

    # ------------------------------------------------------------ Map-Requests

    def _send_request(self, request: RequestToSend, now: float) -> list[Action]:
        pending = request.pending
        resolver = request.resolver
        own = self.local.rloc_for.get(resolver.version)
        if own is None:
            return list(self.drops.drop("no-rloc-for-map-resolver", str(resolver), now))
        eid = pending.eid
        source_eid: Address = NO_ADDRESS
        if pending.source_eid is not None:
            source_eid = with_instance_id(pending.iid, pending.source_eid)
        subscriber = self.subscriber
        if subscriber is not None:
            subscriber.expect(pending.nonce)
        map_request = MapRequest(
            nonce=pending.nonce,
            itr_rlocs=self.local.itr_rlocs,
            records=(
                EidRecord(
                    eid=with_instance_id(pending.iid, eid),
                    eid_mask_len=eid.max_prefixlen,
                    reserved=0 if subscriber is None else SUBSCRIBE_BIT,
                ),
            ),
            source_eid=NO_ADDRESS if self.proxy else source_eid,
            pitr=self.proxy,
            smr_invoked=pending.smr_invoked,
            xtr_id=None if subscriber is None else subscriber.xtr_id,
        )
        inner_src: IPAddress = own
        if eid.version != own.version:
            # The ECM's inner header is of the EID's family; an SMR's source EID (the
            # EID record it named) may be of the other (RFC 9301 puts no rule on it).
            source = pending.source_eid
            inner_src = source if source is not None and source.version == eid.version else eid
        ecm = Ecm(
            source=inner_src, destination=eid, source_port=CONTROL_PORT, message=map_request
        ).encode()
        self.counters.add("out.map-request")
        return [
            SendDatagram(ecm, Endpoint(resolver, CONTROL_PORT), CONTROL_PORT, own),
            Trace(
                "map-request",
                {
                    "eid": str(with_instance_id(pending.iid, eid)),
                    "map_resolver": str(resolver),
                    "nonce": nonce_text(pending.nonce),
                    "attempt": pending.sends,
                },
            ),
        ]

    # ------------------------------------------------------------ Map-Replies

    def handle_control(
        self, message: ControlMessage, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        replier = str(datagram.source.address)
        if isinstance(message, MapRequest):
            if message.smr:
                return self.handle_smr(message, replier, now)
            return list(self.drops.drop("unexpected-map-request", replier, now))
        if not isinstance(message, MapReply):
            return list(self.drops.drop("unexpected-message", replier, now))
        if message.probe:
            return self._probe_reply(message, replier, now)
        pending = self.client.awaiting(message.nonce)
        if pending is None:
            return list(self.drops.drop("map-reply-unknown-nonce", replier, now))
        asked = with_instance_id(pending.iid, pending.eid)
        accepted = self.reply_check(pending, message)
        actions: list[Action] = []
        for record, reason in accepted.rejected:
            detail = f"record {record.eid} /{record.eid_mask_len} for {asked}"
            actions.extend(self.drops.drop(reason, replier, now, detail))
        if accepted.record is None:
            detail = f"nothing for {asked}; the request stays outstanding"
            actions.extend(self.drops.drop("map-reply-no-covering-record", replier, now, detail))
            return actions
        self.client.complete(pending)
        self.counters.add("reply.positive" if accepted.record.locators else "reply.negative")
        actions.extend(self._install(accepted.record, replier, now, pending))
        return actions

    def _install(
        self, record: MappingRecord, by: str, now: float, answered: PendingRequest | None = None
    ) -> list[Action]:
        """Cache `record`; the packets waiting for it (`answered`'s, and those of the
        requests it covers) leave."""
        previous = self.cache.get(record_key(record))
        entry, changes = self.cache.insert(record, now, by)
        self._watch(entry, now)
        actions: list[Action] = [_cache_trace(previous, entry, by), *self._routes(changes)]
        covered = self.client.take_covered(entry.iid, *entry.network)
        for done in [answered, *covered] if answered else covered:
            for packet in done.queue:
                version, src, dst = inner_ints(packet)
                actions.extend(self._forward(packet, done.iid, version, src, dst, now, entry))
        return actions

    def install_mapping(self, record: MappingRecord, now: float, source: str) -> list[Action]:
        """Cache a mapping learned outside the mapping system (behind a NAT: every EID
        through the RTRs, core.nat_traversal), replacing the entry for its prefix."""
        return self._install(record, source, now)

    # ------------------------------------------------------------ publish/subscribe

    def handle_publication(
        self, notify: MapNotify, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        """A Map-Notify of one of our subscriptions (see core.subscriber): its records
        replace the cached entries at once, and a signed Map-Notify-Ack answers it."""
        sender = str(datagram.source.address)
        subscriber = self.subscriber
        if subscriber is None:
            return list(self.drops.drop("map-notify-unknown-nonce", sender, now))
        verdict = subscriber.verdict(notify.nonce)
        if verdict is NotifyNonce.UNKNOWN:
            detail = nonce_text(notify.nonce)
            return list(self.drops.drop("map-notify-unknown-subscription", sender, now, detail))
        key = subscriber.key_for(datagram.payload)
        if key is None:
            return list(self.drops.drop("map-notify-bad-auth", sender, now))
        if notify.xtr_id is not None and notify.xtr_id.xtr_id != subscriber.xtr_id.xtr_id:
            return list(self.drops.drop("map-notify-not-ours", sender, now))
        actions: list[Action] = []
        if verdict is NotifyNonce.NEW:
            subscriber.accept(notify.nonce)
            self.counters.add("in.map-notify.publication")
            for record in notify.records:
                if isinstance(split_instance_id(record.eid)[1], IPv4Address | IPv6Address):
                    actions.extend(self._install(record, sender, now))
        else:
            self.counters.add("in.map-notify.repeated")
        _, ack = MapNotifyAck(
            nonce=notify.nonce,
            records=notify.records,
            key_id=notify.key_id,
            algorithm=notify.algorithm,
            i_bit=notify.i_bit,
            xtr_id=notify.xtr_id,
        ).signed(key)
        self.counters.add("out.map-notify-ack")
        own = self.local.rloc_for.get(datagram.source.address.version)
        actions.append(SendDatagram(ack, datagram.source, CONTROL_PORT, own))
        return actions

    # ------------------------------------------------------------ SMR

    def handle_smr(self, smr: MapRequest, sender: str, now: float) -> list[Action]:
        """An SMR: ask the mapping system again for the cached mapping of its source EID.

        Never answered with a Map-Reply, and never asked of the SMR's sender: the
        SMR-invoked Map-Request goes to a Map-Resolver, rate-limited per EID by the
        resolver client; its answer replaces the cached entry.
        """
        self.counters.add("in.smr")
        iid, eid = split_instance_id(smr.source_eid)
        if not isinstance(eid, IPv4Address | IPv6Address):
            return list(self.drops.drop("smr-no-source-eid", sender, now))
        if self.cache.find(iid, eid, now) is None:
            return list(self.drops.drop("smr-not-cached", sender, now, str(smr.source_eid)))
        _, ours = split_instance_id(smr.records[0].eid)
        source = ours if isinstance(ours, IPv4Address | IPv6Address) else None
        outcome = self.client.on_miss((iid, eid), source, None, now, refresh=True)
        if outcome.request is None:
            reason = outcome.drop_reason or "smr-request-outstanding"
            return list(self.drops.drop(reason, sender, now, f"SMR for {smr.source_eid}"))
        outcome.request.pending.smr_invoked = True
        self.counters.add("out.map-request.smr-invoked")
        return [
            Trace("smr", {"eid": str(smr.source_eid), "by": sender}),
            *self._send_request(outcome.request, now),
        ]

    # ------------------------------------------------------------ RLOC probes

    def _watch(self, entry: CacheEntry, now: float) -> None:
        """A new entry: schedule its probes and keep what probing knows of its RLOCs."""
        if entry.kind != EntryKind.POSITIVE or not self.prober.enabled:
            return
        self.prober.watch(entry.key, now)
        states = self.prober.states(entry.key)
        if states:
            entry.set_reachable({a: s.reachable for a, s in states.items()})
            self.cache.note(entry.key)

    def _probe_reply(self, reply: MapReply, replier: str, now: float) -> list[Action]:
        answer = self.prober.answered(reply.nonce, now)
        if answer is None:
            return list(self.drops.drop("probe-reply-unknown-nonce", replier, now))
        self.counters.add("in.probe-reply")
        return self._reachability([answer.change] if answer.change else [])

    def _probe(self, now: float) -> list[Action]:
        """Due probe rounds, then the one probe the rate allows now."""
        actions: list[Action] = []
        while (key := self.prober.round_due(now)) is not None:
            entry = self.cache.get(key)
            rlocs = None
            in_use = False
            if entry is not None and entry.expires > now:
                rlocs = [
                    r.address
                    for r in entry.rlocs
                    if r.address.version in self._families and entry.announced_up(r)
                ]
                in_use = entry.last_used > now - self.prober.interval
            actions.extend(self._reachability(self.prober.run_round(key, rlocs, in_use, now)))
        return actions + self._send_probe(now)

    def _send_probe(self, now: float) -> list[Action]:
        """The one probe the rate allows now, if any is queued."""
        probe = self.prober.next_probe(now)
        if probe is None:
            return []
        key, address = probe
        entry = self.cache.get(key)
        if entry is None:
            return []
        nonce = self.rng.getrandbits(64) or 1
        request = MapRequest(
            nonce=nonce,
            itr_rlocs=self.local.itr_rlocs,
            records=(EidRecord(eid=entry.record.eid, eid_mask_len=entry.record.eid_mask_len),),
            probe=True,
        )
        self.prober.sent_probe(key, address, nonce, now)
        self.counters.add("out.rloc-probe")
        return [
            SendDatagram(
                request.encode(),
                Endpoint(address, CONTROL_PORT),
                CONTROL_PORT,
                self.local.rloc_for[address.version],
            )
        ]

    def _disagreeing(
        self, entry: CacheEntry, outer: IPAddress, lsb: int, width: int
    ) -> list[IPAddress]:
        """The RLOCs of `entry` whose reachability the locator-status-bits `lsb` (`width`
        bits) contradict, when they come from one of the entry's RLOCs `outer` (else none:
        anyone can send a data packet)."""
        if not any(r.address == outer for r in entry.rlocs):
            return []
        return [
            r.address
            for r in entry.rlocs
            if r.index < width
            and r.priority < UNUSABLE_PRIORITY
            and r.address.version in self._families
            and bool(lsb >> r.index & 1) != r.reachable
        ]

    def locator_status_differs(
        self,
        iid: int,
        version: int,
        source: int,
        outer: IPAddress,
        lsb: int,
        width: int,
        now: float,
    ) -> bool:
        """The one-call decapsulation's check: do a data packet's locator-status-bits
        contradict what probing knows of the sender's RLOCs (then `locator_status_seen`)?"""
        if not self.prober.enabled:
            return False
        entry = self.cache.peek(iid, version, source, now)
        if entry is None:
            return False
        mask = (1 << width) - 1
        if lsb & mask == entry.lsb & mask:  # the common case: no RLOC contradicted
            return False
        return bool(self._disagreeing(entry, outer, lsb, width))

    def locator_status_seen(
        self, iid: int, source: IPAddress, outer: IPAddress, lsb: int, width: int, now: float
    ) -> list[Action]:
        """RFC 9300 section 10: a data packet from `source` (outer source `outer`) says
        which of its site's locators are up. Acting on that would let one spoofed packet
        take RLOCs down: an RLOC it contradicts is probed at once (rate-limited, in
        core.rloc_probe) and the probe decides."""
        entry = self.cache.find(iid, source, now) if self.prober.enabled else None
        if entry is None or entry.kind != EntryKind.POSITIVE:
            return []
        queued = self.prober.probe_now(entry.key, self._disagreeing(entry, outer, lsb, width), now)
        if queued:
            self.counters.add("lsb.probe-triggered", queued)
        return self._send_probe(now)

    def _reachability(self, changes: list[ReachabilityChange]) -> list[Action]:
        actions: list[Action] = []
        for change in changes:
            entry = self.cache.get(change.key)
            if entry is not None:
                entry.set_reachable({change.address: change.reachable})
                self.cache.note(entry.key)
            event = "rloc-reachable" if change.reachable else "rloc-unreachable"
            self.counters.add(f"probe.{event}")
            fields: dict[str, object] = {"rloc": str(change.address)}
            if entry is not None:
                fields["eid"] = entry.prefix_text
            actions.append(Trace(event, fields))
        return actions

    # ------------------------------------------------------------ echo-nonce

    def echo_nonce_wanted(self, outer: IPAddress, nonce: int, echo_request: bool) -> bool:
        """The one-call decapsulation's check: must `nonce_seen` see this data packet?"""
        return self.echo is not None and self.echo.wanted(outer, nonce, echo_request)

    def nonce_seen(
        self, outer: IPAddress, nonce: int, echo_request: bool, now: float
    ) -> list[Action]:
        """A data packet for us from `outer` with `nonce` (RFC 9300 section 10.1): an echo
        request is owed an echo; our own nonce echoed confirms `outer` as a probe would."""
        if self.echo is None or not self.echo.received(outer, nonce, echo_request):
            return []
        self.counters.add("echo-nonce.echoed")
        return self._reachability(self.prober.confirmed(outer))

    def _echo_unanswered(self, now: float) -> None:
        """Requests without an echo in time: probe their RLOCs (the probe decides)."""
        if self.echo is None:
            return
        for rloc in self.echo.unanswered(now):
            for key in self.prober.keys_of(rloc):
                if self.prober.probe_now(key, [rloc], now):
                    self.counters.add("echo-nonce.probe-triggered")

    def _routes(self, changes: Changes) -> list[Action]:
        """The native-route changes of a map-cache update (none while PETRs take that traffic).

        Probing forgets the entries the update removed (evicted, expired) at once.
        """
        for removed in changes.removed:
            self.prober.forget(removed.key)
        if self.petrs:
            return []
        return [
            InstallNativeRoute(e.iid, e.prefix_text)
            if routed
            else RemoveNativeRoute(e.iid, e.prefix_text)
            for routed, e in changes.routes
        ]

    # ------------------------------------------------------------ timers

    def on_timer(self, now: float) -> list[Action]:
        actions = self._routes(self.cache.expire(now))
        resend, given_up = self.client.on_timer(now)
        for request in resend:
            actions.extend(self._send_request(request, now))
        for pending in given_up:
            if pending.queue:
                self.counters.add("drop.map-request-timeout", len(pending.queue))
                self.counters.add(instance_counter(pending.iid, "dropped"), len(pending.queue))
            actions.append(
                Trace("map-request-timeout", {"eid": str(pending.eid), "iid": pending.iid})
            )
        self._echo_unanswered(now)
        actions.extend(self._probe(now))
        return actions

    def next_deadline(self) -> float | None:
        deadlines = (
            self.cache.next_expiry(),
            self.client.next_deadline(),
            self.prober.next_deadline(),
            None if self.echo is None else self.echo.next_deadline(),
        )
        return min((d for d in deadlines if d is not None), default=None)

    def shutdown(self, now: float) -> list[Action]:
        return [*self._unsubscribe(), *self._routes(self.cache.clear())]

    def _unsubscribe(self) -> list[Action]:
        """RFC 9437: withdraw our subscriptions (a subscribing Map-Request whose only
        ITR-RLOC has AFI 0), one per cached mapping, at most MAX_UNSUBSCRIBE."""
        subscriber = self.subscriber
        if subscriber is None or not self.client.resolvers:
            return []
        resolver = self.client.resolvers[0]
        own = self.local.rloc_for.get(resolver.version)
        if own is None:
            return []
        actions: list[Action] = []
        for entry in list(self.cache.entries())[:MAX_UNSUBSCRIBE]:
            record = entry.record
            _, eid = split_instance_id(record.eid)
            if not isinstance(eid, IPv4Address | IPv6Address):
                continue
            request = MapRequest(
                nonce=self.rng.getrandbits(64),
                itr_rlocs=(NO_ADDRESS,),
                records=(
                    EidRecord(
                        eid=record.eid, eid_mask_len=record.eid_mask_len, reserved=SUBSCRIBE_BIT
                    ),
                ),
                xtr_id=subscriber.xtr_id,
            )
            inner_source = own if eid.version == own.version else eid
            ecm = Ecm(
                source=inner_source, destination=eid, source_port=CONTROL_PORT, message=request
            )
            self.counters.add("out.unsubscribe")
            endpoint = Endpoint(resolver, CONTROL_PORT)
            actions.append(SendDatagram(ecm.encode(), endpoint, CONTROL_PORT, own))
        return actions

    # ------------------------------------------------------------ show

    def gauges(self) -> dict[str, int]:
        return {
            "map-cache-entries": len(self.cache),
            "pending-map-requests": len(self.client),
            **self.prober.reachability(),
            **{f"iid-map-cache-entries.{iid}": size for iid, size in self.cache.sizes().items()},
        }

    def show(self, topic: str, arg: str | None, now: float) -> object | None:
        if topic == "map-cache":
            if arg is None:
                return [self._entry_json(e, now) for e in self.cache.entries()]
            iid, address = _parse_show_eid(arg)
            entry = self.cache.find(iid, address, now)
            return [] if entry is None else [self._entry_json(entry, now)]
        if topic == "forwarding" and arg is not None:
            return self.explain(arg, now).to_json()
        return None

    def _entry_json(self, entry: CacheEntry, now: float) -> dict[str, object]:
        """The entry, each locator with what probing knows of it (state, last probe, RTT)."""
        out = entry.to_json(now)
        states = {str(a): s for a, s in self.prober.states(entry.key).items()}
        reachable = {str(r.address): r.reachable for r in entry.rlocs}
        rlocs = out.get("rlocs")
        for rloc in rlocs if isinstance(rlocs, list) else []:
            address = str(rloc["address"])
            state = states.get(address)
            if state is not None:
                rloc["probe"] = state.to_json(now)
            elif address in reachable:
                rloc["probe"] = {"state": "up" if reachable[address] else "down"}
        return out

    def explain(self, arg: str, now: float) -> ForwardingDecision:
        """The step `handle_tun` would take for "EID [SOURCE]" (source: our first EID)."""
        parts = arg.split()
        iid, dst = _parse_show_eid(parts[0])
        src: IPAddress | None = ip_address(parts[1]) if len(parts) > 1 else None
        if src is None:
            first = next(
                (p for p in self.local.prefixes if p.version == dst.version and p.iid == iid), None
            )
            if first is not None:
                src = _address(first.version, first.network + 1)
        admitted = self.admit(dst.version, None if src is None else int(src), int(dst), iid)
        source = None if src is None else str(src)
        if admitted == NOT_ELIGIBLE:
            return ForwardingDecision(
                destination=str(dst),
                source=source,
                iid=iid,
                verdict=Verdict.NATIVE,
                reason=NOT_EID_SOURCE,
            )
        entry = self.cache.find(iid, dst, now)  # admitted or proxied: in the same iid
        step = self._miss_step if entry is None else self._steps[entry.kind]
        verdict, what, rloc, resolver = self._describe(step, entry)
        prefix = None if entry is None else entry.prefix_text
        return ForwardingDecision(
            destination=str(dst),
            source=source,
            iid=iid,
            verdict=verdict,
            reason=f"miss: {what}" if entry is None else f"map-cache hit {prefix}: {what}",
            prefix=prefix,
            rloc=rloc,
            map_resolver=resolver,
        )

    def _describe(
        self, step: Step, entry: CacheEntry | None
    ) -> tuple[Verdict, str, str | None, str | None]:
        """(verdict, what is done, RLOC, Map-Resolver) for `show forwarding`, from `step`."""
        if step is _ENCAPSULATE and entry is not None:
            rloc = choose_rloc(entry.rlocs, 0, self._families)
            if rloc is None:
                return Verdict.DROP, "no usable RLOC: drop", None, None
            return Verdict.ENCAPSULATE, f"encapsulate to {rloc.address}", str(rloc.address), None
        subject = "" if entry is None else f"{entry.action.label}, "
        if step is _TO_PETR:
            petr = choose_rloc(self.petrs, 0, self._families)
            if petr is None:
                return Verdict.DROP, f"{subject}no usable PETR: drop", None, None
            what = f"{subject}encapsulate to PETR {petr.address}"
            return Verdict.ENCAPSULATE, what, str(petr.address), None
        if step is _NATIVE:
            return Verdict.NATIVE, MapReplyAction.NATIVELY_FORWARD.label, None, None
        if step is _MAP_REQUEST:
            resolver = self.client.resolvers[0]
            if resolver.version not in self._families:
                what = f"{subject}no RLOC of ours to reach Map-Resolver {resolver}: drop"
                return Verdict.DROP, what, None, None
            what = f"{subject}Map-Request to {resolver}"
            return Verdict.MAP_REQUEST, what, None, str(resolver)
        if entry is None:
            return Verdict.DROP, "no Map-Resolver or PETR to ask: drop", None, None
        return Verdict.DROP, entry.action.label, None, None


def _cache_trace(previous: CacheEntry | None, entry: CacheEntry, replier: str) -> Trace:
    """`map-cache-add` (per reply, logged at DEBUG), or `map-cache-change` (a state change,
    logged at INFO) when the reply changed the RLOCs or the action cached for the prefix."""
    fields: dict[str, object] = {"eid": entry.prefix_text, "iid": entry.iid, "by": replier}
    old, new = (previous.record if previous else None), entry.record
    if old is None or (old.locators == new.locators and old.action is new.action):
        return Trace("map-cache-add", fields)
    fields["was"], fields["now"] = _outcome(old), _outcome(new)
    return Trace("map-cache-change", fields)


def _outcome(record: MappingRecord) -> str:
    """What a record sends traffic to: its RLOCs, or its action without any."""
    return ",".join(str(locator.address) for locator in record.locators) or record.action.label


def _parse_show_eid(text: str) -> tuple[int, IPAddress]:
    """ "[iid]address" or "address" (a prefix length is ignored)."""
    iid = 0
    if text.startswith("["):
        close = text.index("]")
        iid, text = int(text[1:close]), text[close + 1 :]
    return iid, parse_eid(text)
