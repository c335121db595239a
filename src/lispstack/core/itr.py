"""The Ingress Tunnel Router role (RFC 9300 / RFC 9301): packets from the TUN device in.

handle_tun(packet):
  source not in our EID space -> ForwardNatively       ("native.not-eid-source")
  map-cache hit, positive     -> SendDatagram to RLOC:4341 ("encap.packets")
  hit, natively-forward       -> InstallNativeRoute once per entry, ForwardNatively
  hit, drop actions           -> counted drop ("drop.map-cache-<action>")
  miss                        -> ECM Map-Request to a Map-Resolver, packet queued
handle_control(Map-Reply): nonce must match an outstanding request; the
records are cached; queued packets leave.
on_timer: Map-Request retransmits / failover, map-cache expiry (RemoveNativeRoute).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.encapsulation import (
    RlocChoice,
    choose_rloc,
    data_header,
    flow_hash,
    inner_ints,
    source_port,
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
    RemoveNativeRoute,
    SendDatagram,
    Trace,
)
from lispstack.core.forwarding import ForwardingDecision, Verdict, cache_hit, miss, not_eid_source
from lispstack.core.local_eids import LocalEids
from lispstack.core.resolver_client import PendingRequest, RequestToSend, ResolverClient
from lispstack.core.role import Role
from lispstack.core.xtr_cache import CacheEntry, XtrCache, parse_eid
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.prefix_table import PrefixTable
from lispstack.wire.address import NO_ADDRESS, Address, with_instance_id
from lispstack.wire.control import ControlMessage
from lispstack.wire.ecm import Ecm
from lispstack.wire.errors import DecodeError
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.message_type import MessageType, nonce_text
from lispstack.wire.records import Action as MapAction
from lispstack.wire.records import EidRecord

REFRESH_BEFORE_S = 60.0
"""Refresh a used entry this long (at most 10 % of its TTL) before it expires."""
_NATIVE_ACTIONS = frozenset({MapAction.NATIVELY_FORWARD, MapAction.NO_ACTION})


def _address(version: int, value: int) -> IPAddress:
    return IPv4Address(value) if version == 4 else IPv6Address(value)


class Itr(Role):
    name = "itr"
    control_types = frozenset({MessageType.MAP_REPLY})
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
    ) -> None:
        self.local = local
        self.counters = counters
        self.drops = drops
        self.rng = rng
        self.cache = XtrCache(map_cache_limit)
        self.client = ResolverClient(map_resolvers, rng)
        self.send_map_request_on_miss = send_map_request_on_miss
        self._families = local.families
        self.petrs = tuple(petrs)
        # A Proxy-ITR (RFC 6832) encapsulates non-LISP traffic towards these EID prefixes.
        self.attracted: PrefixTable[bool] = PrefixTable()
        for prefix in attracted:
            self.attracted[prefix] = True
        self.proxy = bool(attracted)
        """Where natively-forward traffic goes, encapsulated, when the provider filters EIDs."""

    # ------------------------------------------------------------ data path

    def handle_tun(self, packet: bytes, now: float) -> list[Action]:
        try:
            version, src, dst = inner_ints(packet)
        except DecodeError as error:
            return list(self.drops.drop("tun-malformed", "tun", now, str(error)))
        source = self.local.source_prefix(version, src)
        if source is not None:
            return self._forward(packet, source.iid, version, src, dst, now)
        if self.proxy and self.attracted.lookup(0, _address(version, dst)) is not None:
            self.counters.add("pitr.packets")
            return self._forward(packet, 0, version, src, dst, now)
        self.counters.add("native.not-eid-source")
        return [ForwardNatively(packet)]

    def _forward(
        self, packet: bytes, iid: int, version: int, src: int, dst: int, now: float
    ) -> list[Action]:
        entry = self.cache.lookup(iid, version, dst, now)
        if entry is None:
            return self._miss(packet, iid, version, src, dst, now)
        actions = self._maybe_refresh(entry, version, src, dst, now)
        if entry.rlocs:
            actions.extend(
                self._encapsulate(packet, iid, entry.rlocs, entry.lsb, entry.prefix_text, now)
            )
            return actions
        action = entry.action
        if action in _NATIVE_ACTIONS and self.petrs:
            self.counters.add("encap.to-petr")
            actions.extend(self._encapsulate(packet, iid, self.petrs, 1, entry.prefix_text, now))
            return actions
        if action in _NATIVE_ACTIONS:
            if not entry.native_route:
                entry.native_route = True
                actions.append(InstallNativeRoute(iid, entry.prefix_text))
            self.counters.add("native.negative-entry")
            actions.append(ForwardNatively(packet))
            return actions
        if action is MapAction.SEND_MAP_REQUEST:
            return self._miss(packet, iid, version, src, dst, now)
        actions.extend(self.drops.drop(f"map-cache-{action.label}", entry.prefix_text, now))
        return actions

    def _encapsulate(
        self,
        packet: bytes,
        iid: int,
        rlocs: Sequence[RlocChoice],
        lsb: int,
        label: str,
        now: float,
    ) -> list[Action]:
        hash_value = flow_hash(packet)
        rloc = choose_rloc(rlocs, hash_value, self._families)
        if rloc is None:
            return list(self.drops.drop("no-usable-rloc", label, now))
        self.counters.add("encap.packets")
        return [
            SendDatagram(
                data_header(self.rng.getrandbits(24), lsb, iid) + packet,
                Endpoint(rloc.address, DATA_PORT),
                source_port(hash_value),
                self.local.rloc_for[rloc.address.version],
            )
        ]

    def _miss(
        self, packet: bytes, iid: int, version: int, src: int, dst: int, now: float
    ) -> list[Action]:
        self.counters.add("map-cache.miss")
        destination = _address(version, dst)
        if not self.send_map_request_on_miss:
            if self.petrs:
                self.counters.add("encap.to-petr")
                return self._encapsulate(packet, iid, self.petrs, 1, str(destination), now)
            return list(self.drops.drop("map-cache-miss", str(destination), now))
        outcome = self.client.on_miss((iid, destination), _address(version, src), packet, now)
        actions: list[Action] = []
        if outcome.request is not None:
            actions.extend(self._send_request(outcome.request))
        if outcome.drop_reason is not None:
            actions.extend(self.drops.drop(outcome.drop_reason, str(destination), now))
        return actions

    def _maybe_refresh(
        self, entry: CacheEntry, version: int, src: int, dst: int, now: float
    ) -> list[Action]:
        if entry.refreshing:
            return []
        window = min(REFRESH_BEFORE_S, entry.record.ttl * 6.0)
        if entry.expires - now > window:
            return []
        entry.refreshing = True
        outcome = self.client.on_miss(
            (entry.iid, _address(version, dst)), _address(version, src), None, now, refresh=True
        )
        if outcome.request is None:
            return []
        self.counters.add("out.map-request.refresh")
        return self._send_request(outcome.request)

    # ------------------------------------------------------------ Map-Requests

    def _send_request(self, request: RequestToSend) -> list[Action]:
        pending = request.pending
        resolver = request.resolver
        own = self.local.rloc_for.get(resolver.version)
        if own is None:
            return list(self.drops.drop("no-rloc-for-map-resolver", str(resolver), 0.0))
        eid = pending.eid
        source_eid: Address = NO_ADDRESS
        if pending.source_eid is not None:
            source_eid = with_instance_id(pending.iid, pending.source_eid)
        map_request = MapRequest(
            nonce=pending.nonce,
            itr_rlocs=self.local.rlocs,
            records=(
                EidRecord(eid=with_instance_id(pending.iid, eid), eid_mask_len=eid.max_prefixlen),
            ),
            source_eid=NO_ADDRESS if self.proxy else source_eid,
            pitr=self.proxy,
        )
        inner_src: IPAddress = own
        if eid.version != own.version:
            inner_src = pending.source_eid if pending.source_eid is not None else eid
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
        if not isinstance(message, MapReply):
            return list(self.drops.drop("unexpected-message", replier, now))
        pending = self.client.on_reply(message.nonce)
        if pending is None:
            return list(self.drops.drop("map-reply-unknown-nonce", replier, now))
        actions: list[Action] = []
        released: list[PendingRequest] = [pending]
        for record in message.records:
            try:
                entry, evicted = self.cache.insert(record, now, replier)
            except ValueError as error:
                actions.extend(self.drops.drop("map-reply-bad-record", replier, now, str(error)))
                continue
            self.counters.add("reply.negative" if entry.negative else "reply.positive")
            actions.append(
                Trace("map-cache-add", {"eid": record.eid_text, "iid": record.iid, "by": replier})
            )
            actions.extend(self._removed(evicted))
            released.extend(self.client.take_covered(entry.iid, entry.contains))
        for done in released:
            for packet in done.queue:
                version, src, dst = inner_ints(packet)
                actions.extend(self._forward(packet, done.iid, version, src, dst, now))
        return actions

    def _removed(self, entries: Sequence[CacheEntry]) -> list[Action]:
        return [RemoveNativeRoute(e.iid, e.prefix_text) for e in entries if e.native_route]

    # ------------------------------------------------------------ timers

    def on_timer(self, now: float) -> list[Action]:
        actions = self._removed(self.cache.expire(now))
        resend, given_up = self.client.on_timer(now)
        for request in resend:
            actions.extend(self._send_request(request))
        for pending in given_up:
            if pending.queue:
                self.counters.add("drop.map-request-timeout", len(pending.queue))
            actions.append(
                Trace("map-request-timeout", {"eid": str(pending.eid), "iid": pending.iid})
            )
        return actions

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self.cache.next_expiry(), self.client.next_deadline()) if d]
        return min(deadlines, default=None)

    def shutdown(self, now: float) -> list[Action]:
        return [
            RemoveNativeRoute(e.iid, e.prefix_text) for e in self.cache.entries() if e.native_route
        ]

    # ------------------------------------------------------------ show

    def show(self, topic: str, arg: str | None, now: float) -> object | None:
        if topic == "map-cache":
            if arg is None:
                return [e.to_json(now) for e in self.cache.entries()]
            iid, address = _parse_show_eid(arg)
            entry = self.cache.find(iid, address, now)
            return [] if entry is None else [entry.to_json(now)]
        if topic == "forwarding" and arg is not None:
            return self.explain(arg, now).to_json()
        return None

    def explain(self, arg: str, now: float) -> ForwardingDecision:
        """The decision `handle_tun` would take for "EID [SOURCE]" (source: our first EID)."""
        parts = arg.split()
        iid, dst = _parse_show_eid(parts[0])
        src: IPAddress | None = ip_address(parts[1]) if len(parts) > 1 else None
        if src is None:
            first = next((p for p in self.local.prefixes if p.version == dst.version), None)
            if first is not None:
                src = _address(first.version, first.network + 1)
        source = None if src is None else self.local.source_prefix(src.version, int(src))
        verdict, reason = Verdict.NATIVE, not_eid_source()
        prefix = rloc_text = resolver = None
        if source is not None:
            iid = source.iid
            entry = self.cache.find(iid, dst, now)
            if entry is None:
                if self.client.resolvers and self.send_map_request_on_miss:
                    resolver = str(self.client.resolvers[0])
                verdict = Verdict.MAP_REQUEST if resolver else Verdict.DROP
                reason = miss(resolver)
            else:
                prefix = entry.prefix_text
                verdict, what, rloc_text = self._explain_entry(entry)
                reason = cache_hit(prefix, what)
        return ForwardingDecision(
            destination=str(dst),
            source=None if src is None else str(src),
            iid=iid,
            verdict=verdict,
            reason=reason,
            prefix=prefix,
            rloc=rloc_text,
            map_resolver=resolver,
        )

    def _explain_entry(self, entry: CacheEntry) -> tuple[Verdict, str, str | None]:
        if entry.rlocs:
            rloc = choose_rloc(entry.rlocs, 0, self._families)
            if rloc is None:
                return Verdict.DROP, "no usable RLOC: drop", None
            return Verdict.ENCAPSULATE, f"encapsulate to {rloc.address}", str(rloc.address)
        if entry.action in _NATIVE_ACTIONS and self.petrs:
            petr = choose_rloc(self.petrs, 0, self._families)
            if petr is not None:
                what = f"natively-forward, encapsulate to PETR {petr.address}"
                return Verdict.ENCAPSULATE, what, str(petr.address)
        if entry.action in _NATIVE_ACTIONS:
            return Verdict.NATIVE, MapAction.NATIVELY_FORWARD.label, None
        if entry.action is MapAction.SEND_MAP_REQUEST:
            return Verdict.MAP_REQUEST, entry.action.label, None
        return Verdict.DROP, entry.action.label, None


def _parse_show_eid(text: str) -> tuple[int, IPAddress]:
    """ "[iid]address" or "address" (a prefix length is ignored)."""
    iid = 0
    if text.startswith("["):
        close = text.index("]")
        iid, text = int(text[1:close]), text[close + 1 :]
    return iid, parse_eid(text)
