"""An xTR finding out whether it is behind a NAT, and acting on it (draft-ietf-lisp-nat-traversal).

With `[etr] nat-traversal = "auto"` (the default):

- an Info-Request (signed with the Map-Server's key, naming our first EID
  prefix) goes to every Map-Server at start and then every
  `register-interval` (+-10 %), retried after 1, 2, 4 ... 30 s while
  unanswered: the same schedule as Map-Registers (core.etr_schedule);
- the ETR registers at start as it always does, straight to its Map-Servers;
  only an Info-Reply showing a NAT makes it register again, through the RTR
  (the Map-Server replaces the first registration: same xTR-ID);
- an Info-Reply must answer an outstanding nonce and verify with that key
  ("drop.info-reply-unknown-nonce", "drop.info-reply-bad-auth");
- we are behind a NAT when a Map-Server saw another address or port than
  our RLOC and 4342. Then, as long as the Info-Reply names RTRs, the ETR
  registers through the first RTR (core.nat_messages) and the ITR sends every
  packet to the RTRs (a 0.0.0.0/0 map-cache entry per instance-id, refreshed
  with each Info-Reply for its TTL). The Map-Registers, sent every
  `register-interval` from port 4341, keep the NAT binding the RTR sends
  through alive (Linux keeps an answered UDP binding 120 s by default).

Not behind a NAT, nothing changes: Map-Registers go straight to the
Map-Servers, from our RLOC, as without this module.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address

from lispstack.config.model import MapServerEntry, NodeConfig
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.etr import Etr
from lispstack.core.etr_schedule import RegistrationSession
from lispstack.core.events import (
    CONTROL_PORT,
    Action,
    DatagramReceived,
    Endpoint,
    IPAddress,
    SendDatagram,
    Trace,
)
from lispstack.core.itr import Itr
from lispstack.core.nat_messages import with_rtr_locators
from lispstack.core.role import Role
from lispstack.wire.address import InstanceId
from lispstack.wire.auth import AlgorithmId, sign_encoded, verify_raw
from lispstack.wire.control import ControlMessage
from lispstack.wire.info import InfoReply, InfoRequest
from lispstack.wire.message_type import MessageType, nonce_text
from lispstack.wire.records import MappingRecord

DEFAULT_ROUTE_TTL_MINUTES = 1440
"""The TTL of the 0.0.0.0/0 entry towards the RTRs when the Info-Reply gives none."""


@dataclass(frozen=True, slots=True)
class Translation:
    """What a Map-Server saw of us in its last Info-Reply."""

    global_rloc: IPAddress
    global_port: int
    rtrs: tuple[IPAddress, ...]
    ttl: int
    when: float

    def behind_nat(self, own: IPAddress | None) -> bool:
        return self.global_rloc != own or self.global_port != CONTROL_PORT


@dataclass(slots=True)
class _InfoSession:
    schedule: RegistrationSession
    seen: Translation | None = None


class NatTraversal(Role):
    name = "nat-traversal"
    control_types = frozenset({MessageType.INFO})

    def __init__(
        self,
        etr: Etr,
        itr: Itr | None,
        map_servers: Sequence[MapServerEntry],
        counters: Counters,
        drops: DropRecorder,
        rng: random.Random,
    ) -> None:
        self.etr = etr
        self.itr = itr
        self.counters = counters
        self.drops = drops
        self.rng = rng
        # An Info-Request is always answered: its schedule waits for the answer.
        self.sessions = [
            _InfoSession(RegistrationSession(replace(server, want_map_notify=True)))
            for server in map_servers
        ]
        self._started = False
        self._global_rloc: IPAddress | None = None

    # ------------------------------------------------------------ Info-Requests

    def on_timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        for session in self.sessions:
            schedule = session.schedule
            if not self._started:
                schedule.trigger(now)
            if schedule.due(now):
                actions.extend(self._request(schedule, now))
        self._started = True
        return actions

    def next_deadline(self) -> float | None:
        if not self._started:
            return 0.0
        return min((s.schedule.next_register for s in self.sessions), default=None)

    def _request(self, schedule: RegistrationSession, now: float) -> list[Action]:
        server = schedule.server
        local = self.etr.local
        own = local.rloc_for.get(server.address.version)
        if own is None or not local.prefixes:
            schedule.on_sent((0,), now, self.rng)  # back off; nothing to ask with
            return list(self.drops.drop("info-request-no-rloc", str(server.address), now))
        first = local.prefixes[0].record(0)
        nonce = self.rng.getrandbits(64)
        algorithm = AlgorithmId(server.algorithm.algorithm_id)
        request = InfoRequest(
            nonce=nonce,
            key_id=server.key_id,
            algorithm=algorithm,
            eid=first.eid,
            eid_mask_len=first.eid_mask_len,
        )
        schedule.on_sent((nonce,), now, self.rng)
        self.counters.add("out.info-request")
        payload = sign_encoded(request.encode(), algorithm, schedule.key)
        destination = Endpoint(server.address, CONTROL_PORT)
        return [
            SendDatagram(payload, destination, CONTROL_PORT, own),
            Trace("info-request", {"map_server": str(server.address), "nonce": nonce_text(nonce)}),
        ]

    def reconfigure(self, config: NodeConfig, now: float) -> list[Action]:
        """New Map-Servers: ask the new ones at once; the others keep their schedule."""
        kept = {s.schedule.server: s for s in self.sessions}
        self.sessions = []
        for server in config.map_servers:
            entry = replace(server, want_map_notify=True)
            session = kept.get(entry)
            if session is None:
                session = _InfoSession(RegistrationSession(entry))
                session.schedule.trigger(now)
            self.sessions.append(session)
        return []

    # ------------------------------------------------------------ Info-Replies

    def handle_control(
        self, message: ControlMessage, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        sender = str(datagram.source.address)
        if not isinstance(message, InfoReply):
            return list(self.drops.drop("unexpected-info-request", sender, now))
        session = next((s for s in self.sessions if message.nonce in s.schedule.outstanding), None)
        if session is None:
            return list(self.drops.drop("info-reply-unknown-nonce", sender, now))
        schedule = session.schedule
        expected = AlgorithmId(schedule.server.algorithm.algorithm_id)
        if message.algorithm != expected or not verify_raw(datagram.payload, schedule.key):
            return list(self.drops.drop("info-reply-bad-auth", sender, now))
        nat = message.nat
        if not isinstance(nat.global_etr_rloc, IPAddress):
            return list(self.drops.drop("info-reply-no-global-rloc", sender, now))
        schedule.on_notify(message.nonce, now, self.rng)
        self.counters.add("in.info-reply.accepted")
        session.seen = Translation(
            global_rloc=nat.global_etr_rloc,
            global_port=nat.etr_udp_port,
            rtrs=tuple(a for a in nat.rtr_rlocs if isinstance(a, IPv4Address)),
            ttl=message.ttl or DEFAULT_ROUTE_TTL_MINUTES,
            when=now,
        )
        return self._apply(session.seen, now)

    def _apply(self, seen: Translation, now: float) -> list[Action]:
        """Act on the latest Info-Reply: the RTRs to use (none: not behind a NAT)."""
        own = self.etr.local.rloc_for.get(seen.global_rloc.version)
        behind = seen.behind_nat(own)
        rtrs = seen.rtrs if behind else ()
        actions: list[Action] = []
        if rtrs != self.etr.rtrs or (behind and seen.global_rloc != self._global_rloc):
            fields: dict[str, object] = {
                "private": str(own),
                "global": f"{seen.global_rloc}:{seen.global_port}",
                "rtrs": ",".join(str(r) for r in rtrs),
            }
            actions.append(Trace("nat-detected" if behind else "no-nat", fields))
            self.etr.rtrs = rtrs
            self.etr.trigger_register(now)
        self._global_rloc = seen.global_rloc
        if rtrs and self.itr is not None:
            for iid in sorted(self.etr.local.iids):
                actions.extend(self.itr.install_mapping(_to_rtrs(iid, rtrs, seen.ttl), now, "rtr"))
        return actions

    # ------------------------------------------------------------ show

    def show(self, topic: str, arg: str | None, now: float) -> object | None:
        if topic != "nat":
            return None
        return [
            {
                "map_server": str(s.schedule.server.address),
                "info_requests_sent": s.schedule.registers_sent,
                "info_replies": s.schedule.notifies_received,
                "global_rloc": None if s.seen is None else str(s.seen.global_rloc),
                "global_port": None if s.seen is None else s.seen.global_port,
                "rtrs": [] if s.seen is None else [str(r) for r in s.seen.rtrs],
                "behind_nat": bool(self.etr.rtrs),
            }
            for s in self.sessions
        ]


def _to_rtrs(iid: int, rtrs: tuple[IPAddress, ...], ttl: int) -> MappingRecord:
    """Every IPv4 EID of instance-id `iid` through the RTRs."""
    anywhere = IPv4Address(0)
    record = MappingRecord(
        eid=InstanceId(iid, anywhere) if iid else anywhere, eid_mask_len=0, ttl=ttl
    )
    return with_rtr_locators(record, rtrs)
