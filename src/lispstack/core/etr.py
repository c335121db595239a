"""The Egress Tunnel Router role (RFC 9300 / RFC 9301).

- Registers the database mappings with every configured Map-Server
  (registration.RegistrationSession decides when), signed with the
  Map-Server's key; Map-Notifies must verify and answer an outstanding nonce.
  No Map-Register nonce repeats within the process (core/register_nonces.py):
  a Map-Server refuses a nonce it has seen from us as a replay.
- Answers Map-Requests for its EID prefixes, direct or forwarded by a
  Map-Server inside an ECM, with an authoritative Map-Reply sent straight to
  the ITR-RLOC at the request's (inner) UDP source port.
- Decapsulates UDP 4341 packets whose inner destination is in its EID space.
- Answers an RLOC probe (Map-Request with the P bit, sent to the RLOC itself)
  the same way, with the P bit set in the Map-Reply and the records.
- Never answers an SMR (Map-Request with the S bit): it goes to the node's ITR
  (`on_smr`), or is dropped and counted.
- Map-versioning (RFC 9302, core.map_versioning): a data packet with a
  destination map-version older than ours gets its ITR an SMR (rate-limited);
  its source map-version goes to the node's ITR (`on_source_version`).
- Remembers the ITRs recently seen asking for or sending to its EIDs
  (core.recent_itrs) and, when its database changes (`database_changed`),
  sends each an SMR (RFC 9301 section 6.1), again every second until that
  ITR's SMR-invoked Map-Request arrives, a few times at most
  (core.smr_retransmit).
- Watches its own RLOCs (`local_rlocs_changed`, core.local_eids): an RLOC
  that is no longer usable here (address removed, link down) is a database
  change: Map-Registers carry it with the R bit clear, and the ITRs seen
  recently get SMRs; the same when it is usable again.
- Hands a Map-Notify that answers none of its Map-Registers to the node's
  subscribing ITR (`on_publication`, RFC 9437).
- Moving EIDs (core.dynamic_eids): the ITR hands it the source of each packet
  from a dynamic prefix (`saw_local_source`); a new host is registered at once
  (its host prefix, our RLOCs), unless it is an address of this node (its
  gateway address in the prefix sends too: an ICMP error, for one). A host
  withdrawn (idle for `dynamic-timeout`: a Map-Register with TTL 0, RFC 9301
  section 8.2; or moved: the Map-Server's unsolicited Map-Notify names it with
  another xTR's RLOCs, answered with a Map-Notify-Ack) is SMRed to the ITRs
  seen recently, with the host as the SMR's source EID, so that they ask the
  mapping system again and follow it; an ITR still sending traffic for a host
  not here gets an SMR too.
- On shutdown, deregisters (Map-Register with TTL 0).
- Behind a NAT (core.nat_traversal sets `rtrs`): registers through the first
  RTR (the RTRs as RLOCs, proxy-reply, in an ECM: core.nat_messages) and takes
  the Map-Notify the RTR relays inside a data packet (a Data-Map-Notify).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from ipaddress import IPv4Address, IPv6Address

from lispstack.config.model import MapServerEntry, NodeConfig
from lispstack.core.counters import Counters, instance_counter
from lispstack.core.drops import DropRecorder
from lispstack.core.dynamic_eids import DynamicEid, DynamicEids, Learned, host_prefix
from lispstack.core.encapsulation import decapsulate, inner_ints
from lispstack.core.etr_schedule import RegistrationSession
from lispstack.core.events import (
    CONTROL_PORT,
    Action,
    DatagramReceived,
    Endpoint,
    IPAddress,
    LocalRlocsChanged,
    SendDatagram,
    Trace,
    WriteToTun,
)
from lispstack.core.local_eids import AUTHORITATIVE_TTL, LocalEids, LocalPrefix
from lispstack.core.map_versioning import NULL_VERSION, SmrLimiter, newer
from lispstack.core.moved_eids import acknowledgement
from lispstack.core.nat_messages import control_in_data, register_via_rtr, with_rtr_locators
from lispstack.core.recent_itrs import RecentItrs
from lispstack.core.register_nonces import RegisterNonces
from lispstack.core.role import Role
from lispstack.core.smr_retransmit import SmrRetransmits
from lispstack.wire.address import NO_ADDRESS, Address, split_instance_id, with_instance_id
from lispstack.wire.auth import AlgorithmId, verify_raw
from lispstack.wire.control import ControlMessage, decode_control
from lispstack.wire.data_header import FLAG_E, FLAG_I, Decapsulated
from lispstack.wire.ecm import Ecm
from lispstack.wire.errors import DecodeError
from lispstack.wire.map_notify import MapNotify
from lispstack.wire.map_register import MapRegister
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.message_type import MessageType, nonce_text
from lispstack.wire.records import EidRecord, MappingRecord
from lispstack.wire.xtr_id import XtrId

SMR_INTERVAL_S = 1.0
"""At most one SMR a second per ITR and absent host of a dynamic prefix."""
MAX_ABSENT_SMRS = 4096
REGISTER_RECORD_BYTES = 1200
"""Records one Map-Register carries at most (in bytes; a record bigger alone goes
alone): with its header, HMAC-SHA-256, xTR-ID and an ECM over IPv6 to an RTR, a
Map-Register stays within a 1500-byte MTU unfragmented, however many hosts a dynamic
prefix has learned (a bound: see dynamic-limit)."""


class Etr(Role):
    name = "etr"
    control_types = frozenset({MessageType.MAP_REQUEST, MessageType.ECM, MessageType.MAP_NOTIFY})
    handles_data = True

    def __init__(
        self,
        *,
        local: LocalEids,
        map_servers: Sequence[MapServerEntry],
        counters: Counters,
        drops: DropRecorder,
        rng: random.Random,
        site_id: int = 0,
    ) -> None:
        self.local = local
        self.dynamic = DynamicEids(local.prefixes)
        self._own_addresses: frozenset[tuple[int, int]] = frozenset()
        """(IP version, address) of every address held here: never a dynamic host."""
        self.counters = counters
        self.drops = drops
        self.rng = rng
        self.xtr_id = XtrId(rng.getrandbits(128), site_id)
        self._nonces = RegisterNonces(rng.getrandbits(128).to_bytes(16, "big"))
        self.sessions = [RegistrationSession(server) for server in map_servers]
        self._started = False
        self.recent_itrs = RecentItrs()
        self.smr_retransmits = SmrRetransmits()
        self._absent_smrs: dict[tuple[IPAddress, int, int, int], float] = {}
        """When an SMR last went to (ITR, instance-id, version, host) for traffic to an
        absent host of a dynamic prefix."""
        self.on_smr: Callable[[MapRequest, str, float], list[Action]] | None = None
        """The node's ITR's SMR handler (core.xtr wires it); None: SMRs are dropped."""
        self.on_source_version: Callable[[int, IPAddress, int, float], list[Action]] | None = None
        self.on_locator_status: (
            Callable[[int, IPAddress, IPAddress, int, int, float], list[Action]] | None
        ) = None
        """The node's ITR (`Itr.locator_status_seen`): a data packet's locator-status-bits."""
        self.locator_status_differs: (
            Callable[[int, int, int, IPAddress, int, int, float], bool] | None
        ) = None
        """The node's ITR (`Itr.locator_status_differs`): must `handle_data` take the packet?"""
        self.on_nonce: Callable[[IPAddress, int, bool, float], list[Action]] | None = None
        """The node's ITR with `[itr] echo-nonce` (`Itr.nonce_seen`): a data packet's nonce."""
        self.echo_nonce_wanted: Callable[[IPAddress, int, bool], bool] | None = None
        """The node's ITR with `[itr] echo-nonce` (`Itr.echo_nonce_wanted`)."""
        """The node's ITR's check of a data packet's source map-version (core.xtr wires
        it): (iid, source EID, version, now)."""
        self._smr_limiter = SmrLimiter()
        self.on_publication: Callable[[MapNotify, DatagramReceived, float], list[Action]] | None = (
            None
        )
        """The node's subscribing ITR's Map-Notify handler (core.xtr wires it): a
        Map-Notify no registration of ours awaits is a publication (RFC 9437)."""
        self.on_not_our_eid: (
            Callable[[Decapsulated, DatagramReceived, float], list[Action]] | None
        ) = None
        """The node's PETR (`Petr.forward`, core.xtr wires it): a packet for no EID of
        ours is for the PETR on this node, not a drop."""
        self.rtrs: tuple[IPAddress, ...] = ()
        """Behind a NAT (core.nat_traversal sets them): register through these RTRs."""

    # ------------------------------------------------------------ registration

    def _registered_prefixes(self, local: LocalEids | None = None) -> list[LocalPrefix]:
        """What a Map-Register of `local` (by default ours, with the dynamic hosts) holds:
        every database mapping but the dynamic prefixes themselves."""
        static = [p for p in (local or self.local).prefixes if not p.mapping.dynamic]
        return static if local is not None else static + [e.host for e in self.dynamic]

    def _register(
        self,
        session: RegistrationSession,
        now: float,
        ttl: int,
        prefixes: Sequence[LocalPrefix] | None = None,
    ) -> tuple[list[Action], list[int]]:
        """The Map-Registers of `prefixes` (by default all we register) to the session's
        Map-Server, with record TTL `ttl` (0 deregisters): as many as it takes to keep
        each within REGISTER_RECORD_BYTES of records; their nonces."""
        server = session.server
        if prefixes is None:
            prefixes = self._registered_prefixes()
        records = [prefix.record(ttl) for prefix in prefixes]
        rtrs, rloc = self.rtrs, self.local.rloc_for.get(server.address.version)
        if rtrs:
            records = [with_rtr_locators(record, rtrs) for record in records]
        actions: list[Action] = []
        nonces: list[int] = []
        for chunk in _fitting(records, REGISTER_RECORD_BYTES):
            nonce = self._nonces.next()
            register, payload = MapRegister(
                nonce=nonce,
                records=chunk,
                key_id=server.key_id,
                algorithm=AlgorithmId(server.algorithm.algorithm_id),
                proxy_reply=server.proxy_reply or bool(rtrs),
                want_map_notify=server.want_map_notify and ttl > 0,
                xtr_id=self.xtr_id,
            ).signed(session.key)
            self.counters.add("out.map-register")
            destination = Endpoint(server.address, CONTROL_PORT)
            send = SendDatagram(payload, destination, CONTROL_PORT, rloc)
            if rtrs and rloc is not None:
                send = register_via_rtr(register, rloc, rtrs[0], server.address)
            trace = {"map_server": str(server.address), "nonce": nonce_text(nonce), "ttl": ttl}
            actions += [send, Trace("map-register", trace)]
            nonces.append(nonce)
        return actions, nonces

    def on_timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        idle = self.dynamic.expire(now)
        if idle:
            actions.extend(self._withdraw(idle, "idle", now))
        for smr in self.smr_retransmits.due(now):
            self.counters.add("out.smr.retransmitted")
            actions.extend(self._smr(smr.itr, smr.their_eid, smr.prefix))
        for session in self.sessions:
            if not self._started:
                session.trigger(now)
            session.expire(now)
        actions.extend(self._registers_due(now))
        self._started = True
        return actions

    def _registers_due(self, now: float) -> list[Action]:
        """The Map-Registers due now, one per Map-Server."""
        actions: list[Action] = []
        registered = self._registered_prefixes()
        for session in self.sessions:
            if session.due(now) and not registered:
                # Only dynamic prefixes, no host yet: nothing to register until one comes.
                session.next_register = now + session.server.register_interval
            elif session.due(now):
                sent, nonces = self._register(session, now, session.server.register_ttl, registered)
                session.on_sent(nonces, now, self.rng)
                actions.extend(sent)
        return actions

    def next_deadline(self) -> float | None:
        if not self._started:
            return 0.0
        deadlines = [s.next_register for s in self.sessions]
        for other in (self.dynamic.next_deadline(), self.smr_retransmits.next_deadline()):
            if other is not None:
                deadlines.append(other)
        return min(deadlines, default=None)

    def trigger_register(self, now: float) -> None:
        """The database changed: register with every Map-Server at the next timer."""
        for session in self.sessions:
            session.trigger(now)

    def local_rlocs_changed(self, change: LocalRlocsChanged, now: float) -> list[Action]:
        """The addresses usable here changed: when one of our RLOCs went down or came back,
        that is a database change (register again, SMR the ITRs seen recently)."""
        self._own_addresses = frozenset((a.version, int(a)) for a in change.held | change.usable)
        before = self.local.down
        self.local = self.local.with_usable(change.usable)
        if self.local.down == before:
            return []
        self.dynamic = self.dynamic.with_prefixes(self.local.prefixes)
        self.counters.add("local-rlocs.changed")
        trace = Trace(
            "local-rlocs",
            {"down": " ".join(str(a) for a in self.local.rlocs if a in self.local.down) or "-"},
        )
        return [trace, *self.database_changed(now)]

    def reconfigure(self, config: NodeConfig, now: float) -> list[Action]:
        """New database mappings or Map-Servers: deregister what is gone (from a removed
        Map-Server, a removed EID prefix), register at once where what we register
        changed (every Map-Server if the mappings did, else the new ones), and send SMRs
        to the ITRs seen recently when the mappings changed."""
        old = self.local
        self.local = old.with_mappings(config.database_mappings)
        old_hosts = list(self.dynamic)
        self.dynamic = self.dynamic.with_prefixes(self.local.prefixes)
        changed = [p.mapping for p in old.prefixes] != [p.mapping for p in self.local.prefixes]
        current = {p.mapping.eid_prefix for p in self.local.prefixes}
        gone = self._registered_prefixes(
            LocalEids([p.mapping for p in old.prefixes if p.mapping.eid_prefix not in current])
        )
        gone += [e.host for e in old_hosts if self.dynamic.lookup(*_key(e)) is None]
        kept = {session.server: session for session in self.sessions}
        self.sessions = [
            kept.pop(server) if server in kept else RegistrationSession(server)
            for server in config.map_servers
        ]
        actions: list[Action] = []
        for removed in kept.values():
            registered = self._registered_prefixes(old) + [e.host for e in old_hosts]
            actions.extend(self._register(removed, now, 0, registered)[0])
        for session in self.sessions:
            if gone and session.last_register is not None:
                actions.extend(self._register(session, now, 0, gone)[0])
            if changed or session.last_register is None:
                session.trigger(now)
        if changed:
            actions.extend(self._solicit(now))
        return actions

    def shutdown(self, now: float) -> list[Action]:
        actions: list[Action] = []
        for session in self.sessions:
            sent, _ = self._register(session, now, 0)
            actions.extend(sent)
        return actions

    # ------------------------------------------------------------ control messages

    def handle_control(
        self, message: ControlMessage, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        sender = str(datagram.source.address)
        if isinstance(message, MapNotify):
            awaited = any(message.nonce in s.outstanding for s in self.sessions)
            moved = not awaited and self.dynamic.names_a_host(message.records)
            if not awaited and not moved and self.on_publication is not None:
                return self.on_publication(message, datagram, now)
            return self._map_notify(message, datagram.payload, sender, now)
        if isinstance(message, Ecm):
            if not isinstance(message.message, MapRequest):
                return list(self.drops.drop("ecm-not-map-request", sender, now))
            return self._map_request(message.message, message.source_port, sender, now)
        if isinstance(message, MapRequest):
            if message.smr:
                if self.on_smr is None:
                    return list(self.drops.drop("smr-without-itr", sender, now))
                return self.on_smr(message, sender, now)
            return self._map_request(message, datagram.source.port, sender, now)
        return list(self.drops.drop("unexpected-message", sender, now))

    def _map_request(
        self, request: MapRequest, reply_port: int, sender: str, now: float
    ) -> list[Action]:
        itr_rloc = next(
            (
                a
                for a in request.itr_rlocs
                if isinstance(a, IPv4Address | IPv6Address) and a.version in self.local.rloc_for
            ),
            None,
        )
        if itr_rloc is None:
            return list(self.drops.drop("map-request-no-usable-itr-rloc", sender, now))
        records: list[MappingRecord] = []
        for eid_record in request.records:
            iid, address = split_instance_id(eid_record.eid)
            prefix = None
            if isinstance(address, IPv4Address | IPv6Address):
                prefix = self._answering(iid, address.version, int(address))
            if prefix is None:
                return list(
                    self.drops.drop("map-request-not-our-eid", sender, now, str(eid_record.eid))
                )
            records.append(prefix.record(AUTHORITATIVE_TTL, probed=request.probe))
            if request.smr_invoked and self.smr_retransmits.answered(request.itr_rlocs, prefix):
                self.counters.add("smr.answered")
        self.recent_itrs.saw(itr_rloc, request.source_eid, now)
        reply = MapReply(nonce=request.nonce, records=tuple(records), probe=request.probe)
        self.counters.add("out.map-reply")
        return [
            SendDatagram(
                reply.encode(),
                Endpoint(itr_rloc, reply_port),
                CONTROL_PORT,
                self.local.rloc_for[itr_rloc.version],
            ),
            Trace(
                "map-reply",
                {
                    "itr_rloc": str(itr_rloc),
                    "eid": records[0].eid_text,
                    "nonce": nonce_text(request.nonce),
                    "via": sender,
                },
            ),
        ]

    def _map_notify(
        self, notify: MapNotify, payload: bytes, sender: str, now: float
    ) -> list[Action]:
        session = next((s for s in self.sessions if notify.nonce in s.outstanding), None)
        if session is None:
            return self._unsolicited_notify(notify, payload, sender, now)
        server = session.server
        if notify.algorithm != server.algorithm.algorithm_id or not verify_raw(
            payload, session.key
        ):
            return list(self.drops.drop("map-notify-bad-auth", sender, now))
        first = not session.registered
        session.on_notify(notify.nonce, now, self.rng)
        self.counters.add("in.map-notify.accepted")
        event = "registered" if first else "map-notify"
        return [Trace(event, {"map_server": str(server.address), "by": sender})]

    def _answering(self, iid: int, version: int, address: int) -> LocalPrefix | None:
        """The prefix a Map-Request for the EID is answered with: the database mapping
        holding it, or, in a dynamic prefix, the host prefix of a host we have (else None)."""
        prefix = self.local.lookup(iid, version, address)
        if prefix is None or not prefix.mapping.dynamic:
            return prefix
        host = self.dynamic.lookup(iid, version, address)
        return None if host is None else host.host

    def _unsolicited_notify(
        self, notify: MapNotify, payload: bytes, sender: str, now: float
    ) -> list[Action]:
        """A Map-Notify the Map-Server sent on its own: a host of ours registered by another
        xTR (it moved). Verified with the key of one of our Map-Servers (it may answer
        from another of its addresses than the one we register with); acknowledged."""
        if not self.dynamic.prefixes:
            return list(self.drops.drop("map-notify-unknown-nonce", sender, now))
        session = next(
            (
                s
                for s in self.sessions
                if notify.algorithm == s.server.algorithm.algorithm_id
                and verify_raw(payload, s.key)
            ),
            None,
        )
        if session is None:
            return list(self.drops.drop("map-notify-bad-auth", sender, now))
        moved = self.dynamic.moved_away(notify.records, self.local.rlocs)
        if not moved:
            return list(self.drops.drop("map-notify-unknown-nonce", sender, now))
        self.counters.add("in.map-notify.moved")
        self.counters.add("out.map-notify-ack")
        return [
            SendDatagram(
                acknowledgement(notify, session.key),
                Endpoint(session.server.address, CONTROL_PORT),
                CONTROL_PORT,
                self.local.rloc_for.get(session.server.address.version),
            ),
            *self._withdraw(moved, "moved", now, deregister=False),
        ]

    # ------------------------------------------------------------ moving EIDs

    def saw_local_source(self, iid: int, version: int, source: int, now: float) -> list[Action]:
        """The ITR saw a packet from `source`, one of our EIDs: learn a dynamic host."""
        if self.dynamic.parent_of(iid, version, source) is None:
            return []
        if (version, source) in self._own_addresses:
            self.counters.add("dynamic-eids.own-address")
            return []
        learned, entry = self.dynamic.learn(iid, version, source, now)
        if learned is Learned.KNOWN:
            return []
        host_text = entry.host.record(0).eid_text
        if learned is Learned.FULL:
            return list(self.drops.drop("dynamic-eid-limit", host_text, now))
        self.counters.add("dynamic-eids.learned")
        actions: list[Action] = [Trace("dynamic-eid-learned", {"eid": host_text})]
        for session in self.sessions:
            sent, nonces = self._register(session, now, session.server.register_ttl, [entry.host])
            session.on_sent(nonces, now, self.rng)
            actions.extend(sent)
        return actions

    def _withdraw(
        self, hosts: Sequence[DynamicEid], why: str, now: float, *, deregister: bool = True
    ) -> list[Action]:
        """Hosts no longer here (`why`: idle or moved): deregistered (unless another xTR's
        registration replaced them already), and SMRs, naming each, to the ITRs seen
        recently."""
        self.counters.add(f"dynamic-eids.{why}", len(hosts))
        prefixes = [e.host for e in hosts]
        event = f"dynamic-eid-{why}"
        actions: list[Action] = [Trace(event, {"eid": p.record(0).eid_text}) for p in prefixes]
        if deregister:
            for session in self.sessions:
                if session.last_register is not None:
                    actions.extend(self._register(session, now, 0, prefixes)[0])
        actions.extend(self._solicit(now, prefixes))
        return actions

    # ------------------------------------------------------------ data plane

    def handle_data(self, datagram: DatagramReceived, now: float) -> list[Action]:
        delivered = self.decapsulate_data(datagram.payload, datagram.source, now)
        if delivered is not None:
            return [WriteToTun(*delivered)]
        try:
            packet = decapsulate(datagram.payload)
            version, src, dst = inner_ints(packet.inner)
        except DecodeError as error:
            return list(
                self.drops.drop("decap-malformed", str(datagram.source.address), now, str(error))
            )
        ours = self.local.lookup(packet.iid, version, dst)
        if ours is None:
            notify = control_in_data(packet.inner, self.local.rlocs) if self.rtrs else None
            if notify is not None:  # a Data-Map-Notify from our RTR
                return self._data_map_notify(notify, datagram, now)
            if self.on_not_our_eid is not None:
                return self.on_not_our_eid(packet, datagram, now)
            sender = str(datagram.source.address)
            if packet.iid in self.local.iids:
                return list(self.drops.drop("decap-not-our-eid", sender, now, iid=packet.iid))
            return list(self.drops.drop("decap-unserved-iid", sender, now))  # no counter per iid
        self.counters.add("decap.packets")
        self.counters.add(instance_counter(packet.iid, "decapsulated"))
        self.recent_itrs.saw_data(datagram.source.address, packet.iid, packet.inner, now)
        actions: list[Action] = [WriteToTun(packet.inner, packet.iid)]
        source = IPv4Address(src) if version == 4 else IPv6Address(src)
        outer = datagram.source.address
        if packet.map_versions is not None:
            actions.extend(self._versions(packet, ours, source, outer, now))
        if packet.lsb is not None and self.on_locator_status is not None:
            width = _lsb_width(packet)
            actions.extend(
                self.on_locator_status(packet.iid, source, outer, packet.lsb, width, now)
            )
        if packet.nonce is not None and self.on_nonce is not None:
            echo_request = bool(packet.flags & FLAG_E)
            actions.extend(self.on_nonce(outer, packet.nonce, echo_request, now))
        if ours.mapping.dynamic and self.dynamic.lookup(packet.iid, version, dst) is None:
            actions.extend(self._absent_host(datagram.source.address, packet, ours, now))
        return actions

    def _versions(
        self,
        packet: Decapsulated,
        ours: LocalPrefix,
        source: IPAddress,
        itr: IPAddress,
        now: float,
    ) -> list[Action]:
        """RFC 9302 (core.map_versioning): a stale destination version gets the ITR an
        SMR; a source version goes to the node's ITR (`on_source_version`)."""
        assert packet.map_versions is not None
        source_version, dest_version = packet.map_versions
        actions: list[Action] = []
        if newer(ours.mapping.map_version, dest_version):
            self.counters.add("map-version.stale-destination")
            if self._smr_limiter.allow((itr, ours.mapping.eid_prefix), now):
                their_eid = with_instance_id(packet.iid, source)
                actions.extend(self._smr(itr, their_eid, ours))
        if source_version != NULL_VERSION and self.on_source_version is not None:
            actions.extend(self.on_source_version(packet.iid, source, source_version, now))
        return actions

    def decapsulate_data(
        self, payload: bytes, source: Endpoint, now: float
    ) -> tuple[bytes, int] | None:
        """The inner packet and instance-id of an encapsulated packet for one of our EIDs
        (counted, its ITR remembered), or None: `handle_data` takes it (map-versions) or
        says why it is dropped.
        The daemon calls it for every data datagram, without action objects."""
        try:
            packet = decapsulate(payload)
            version, src, dst = inner_ints(packet.inner)
        except DecodeError:
            return None
        prefix = self.local.lookup(packet.iid, version, dst)
        if packet.map_versions is not None or prefix is None:
            return None
        differs = self.locator_status_differs
        if (
            packet.lsb is not None
            and differs is not None
            and differs(
                packet.iid, version, src, source.address, packet.lsb, _lsb_width(packet), now
            )
        ):
            return None  # `handle_data` has the ITR probe the RLOCs the bits contradict
        wanted = self.echo_nonce_wanted
        if (
            packet.nonce is not None
            and wanted is not None
            and wanted(source.address, packet.nonce, bool(packet.flags & FLAG_E))
        ):
            return None  # `handle_data` hands the nonce to the ITR (echo-nonce)
        if prefix.mapping.dynamic and self.dynamic.lookup(packet.iid, version, dst) is None:
            return None  # a host not here: `handle_data` SMRs its sender
        self.counters.add("decap.packets")
        self.counters.add(instance_counter(packet.iid, "decapsulated"))
        self.recent_itrs.saw_data(source.address, packet.iid, packet.inner, now)
        return packet.inner, packet.iid

    def _data_map_notify(
        self, payload: bytes, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        sender = str(datagram.source.address)
        try:
            message = decode_control(payload)
        except DecodeError as error:
            return list(self.drops.drop("data-map-notify-malformed", sender, now, str(error)))
        if not isinstance(message, MapNotify):
            return list(self.drops.drop("data-map-notify-not-map-notify", sender, now))
        self.counters.add("in.data-map-notify")
        return self._map_notify(message, payload, sender, now)

    def _absent_host(
        self, itr: IPAddress, packet: Decapsulated, parent: LocalPrefix, now: float
    ) -> list[Action]:
        """Traffic for a host of a dynamic prefix that is not here (it moved, or went
        quiet): delivered all the same (it may be back), and an SMR for the host to the
        ITR that sent it, at most once a second per ITR and host (its cached mapping is
        stale: it asks the mapping system again)."""
        self.counters.add("decap.dynamic-eid-absent")
        version, src, dst = inner_ints(packet.inner)
        key = (itr, packet.iid, version, dst)
        if now - self._absent_smrs.get(key, -SMR_INTERVAL_S) < SMR_INTERVAL_S:
            return []
        if len(self._absent_smrs) >= MAX_ABSENT_SMRS:
            self._absent_smrs.clear()
        self._absent_smrs[key] = now
        source = IPv4Address(src) if version == 4 else IPv6Address(src)
        return self._smr(itr, with_instance_id(packet.iid, source), host_prefix(parent, dst))

    # ------------------------------------------------------------ SMR

    def database_changed(self, now: float) -> list[Action]:
        """The database mappings changed (a reload, an RLOC or a priority): tell who holds them.

        Registers again at once, so that the Map-Server has the new mapping when the
        ITRs ask, then solicits a Map-Request from each ITR seen recently (`_solicit`).
        """
        self.trigger_register(now)
        return [*self._registers_due(now), *self._solicit(now)]

    def _solicit(self, now: float, prefixes: Sequence[LocalPrefix] | None = None) -> list[Action]:
        """An SMR to each ITR seen recently per EID prefix of ours (by default all that
        we register; source EID: our prefix; record: an EID of theirs), from our RLOC
        of its family to its port 4342, sent again until it asks (core.smr_retransmit)."""
        if prefixes is None:
            prefixes = self._registered_prefixes()
        actions: list[Action] = []
        for itr, their_eid in self.recent_itrs.current(now):
            for prefix in prefixes:
                actions.extend(self._smr(itr, their_eid, prefix))
                self.smr_retransmits.sent(itr, their_eid, prefix, now)
        return actions

    def _smr(self, itr: IPAddress, their_eid: Address, prefix: LocalPrefix) -> list[Action]:
        """An SMR for `prefix` (its source EID) to `itr`, naming `their_eid` (an EID of
        theirs, if known), from our RLOC of its family to its port 4342."""
        own = self.local.rloc_for.get(itr.version)
        if own is None:
            return []
        record = prefix.record(AUTHORITATIVE_TTL)
        asked: Address = their_eid if their_eid is not NO_ADDRESS else record.eid
        smr = MapRequest(
            nonce=self.rng.getrandbits(64),
            itr_rlocs=self.local.itr_rlocs,
            source_eid=record.eid,
            records=(EidRecord(eid=asked, eid_mask_len=_host_length(asked)),),
            smr=True,
        )
        self.counters.add("out.smr")
        return [
            SendDatagram(smr.encode(), Endpoint(itr, CONTROL_PORT), CONTROL_PORT, own),
            Trace("smr", {"itr": str(itr), "eid": record.eid_text}),
        ]

    # ------------------------------------------------------------ show

    def show(self, topic: str, arg: str | None, now: float) -> object | None:
        if topic != "database":
            return None
        registrations = [s.to_json(now) for s in self.sessions]
        return [
            {
                **prefix.record(AUTHORITATIVE_TTL).to_json(),
                "dynamic": prefix.mapping.dynamic,
                "registrations": registrations,
            }
            for prefix in self.local.prefixes
        ] + [
            {
                **entry.host.record(AUTHORITATIVE_TTL).to_json(),
                "dynamic_host": True,
                "learned_s": round(now - entry.first_seen, 3),
                "idle_s": round(now - entry.last_seen, 3),
                "registrations": registrations,
            }
            for entry in self.dynamic
        ]


def _lsb_width(packet: Decapsulated) -> int:
    """How many locator-status-bits the packet carries (8 with an instance-id)."""
    return 8 if packet.flags & FLAG_I else 32


def _fitting(records: Sequence[MappingRecord], budget: int) -> Iterator[tuple[MappingRecord, ...]]:
    """`records` in order, in groups of at most `budget` encoded bytes (at least one
    group, maybe empty)."""
    group: list[MappingRecord] = []
    size = 0
    for record in records:
        length = len(record.encode())
        if group and size + length > budget:
            yield tuple(group)
            group, size = [], 0
        group.append(record)
        size += length
    yield tuple(group)


def _key(entry: DynamicEid) -> tuple[int, int, int]:
    host = entry.host
    return host.iid, host.version, host.network


def _host_length(eid: Address) -> int:
    _, address = split_instance_id(eid)
    return address.max_prefixlen if isinstance(address, IPv4Address | IPv6Address) else 0
