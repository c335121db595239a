"""The DDT Map-Resolver (RFC 8111 section 7.3): resolving by walking Map-Referrals.

With `[[ddt-roots]]`, a Map-Resolver answers an ITR's Map-Request not from
its own Map-Server but by asking the LISP-DDT hierarchy. The ITR's ECM goes,
byte for byte but with the D bit set and the ITR's nonce, to the DDT node
that the most specific live referral-cache entry holding the EID names (the
roots when none does), and each Map-Referral decides the next step (RFC 8111
sections 7.3.2 and 8.2):

    node-referral, ms-referral   cache it for its TTL (unless I is set: section 6.3),
                                 ask its referral set (priority order)   ddt.referral
    ms-ack                       done: the Map-Server forwards to the ETR
                                 or proxy-replies to the ITR          ddt.ms-ack
    ms-not-registered            ask the next Map-Server of the set; when every one
                                 said so, a negative Map-Reply for its prefix and TTL
                                 (cached unless I is set)         ddt.not-registered
    delegation-hole              cache it, a negative Map-Reply for its prefix and
                                 TTL                                  ddt.negative
    not-authoritative            walk begun at a cached referral: forget that entry
                                 and start again from the roots (ddt.restart); begun
                                 at the roots: the next node of the set, and when none
                                 is left a negative Map-Reply     ddt.not-authoritative

A cached negative entry is answered at once (ddt.cache-negative). A node
that does not answer within DDT_TIMEOUT s is replaced by the next of its
referral set (ddt.timeout). A referral that is not more specific than the one
followed before it is a loop (ddt.loop, section 7.3.4): a walk begun at a
cached referral starts again from the roots, one begun at the roots ends with
a negative Map-Reply. An exhausted referral set restarts a walk begun at a
cached referral from the roots; one begun at the roots, or more than
MAX_DEPTH referrals, ends the request silently (ddt.gave-up): the ITR asks
again. Negative Map-Replies that answer a loop or NOT-AUTHORITATIVE are for
the EID alone, ERROR_TTL minutes. A Map-Referral is only taken from the node
asked, with the nonce of a pending request. Pending requests are bounded
(MAX_PENDING; beyond: drop.ddt-pending-full).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address

from lispstack.config.model import NodeConfig
from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.events import CONTROL_PORT, Action, DatagramReceived, Endpoint, SendDatagram
from lispstack.core.map_resolver import IncomingRequest, encapsulate_plain, read_request
from lispstack.core.referral_cache import ReferralCache, record_prefix
from lispstack.core.referrals import referral_order, referral_record
from lispstack.core.replies import NegativeReplyEncoder
from lispstack.core.role import Role
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.wire.control import ControlMessage
from lispstack.wire.ecm import Ecm, with_ddt_flag
from lispstack.wire.map_referral import MapReferral, ReferralAction, ReferralRecord
from lispstack.wire.message_type import MessageType

DDT_TIMEOUT = 2.0
MAX_DEPTH = 16
MAX_PENDING = 65_536
ERROR_TTL = 1
_IN_ECM = f"in.{MessageType.ECM.label}"
_IN_REFERRAL = f"in.{MessageType.MAP_REFERRAL.label}"
"""Minutes, of the negative Map-Reply that ends a loop or a NOT-AUTHORITATIVE walk."""
_NEGATIVE = (ReferralAction.MS_NOT_REGISTERED, ReferralAction.DELEGATION_HOLE)


@dataclass(slots=True)
class _Pending:
    iid: int
    eid: IPAddress
    request: bytes
    """The ITR's ECM with the D bit set: what every DDT node of the walk gets."""
    reply_to: Endpoint
    candidates: list[IPAddress]
    """The rest of the current referral set, in the order to try it."""
    started_at: EidPrefix | None
    """The cached referral the walk began at; None once it went through the roots."""
    asked: IPAddress | None = None
    deadline: float = 0.0
    depth: int = 0
    followed_length: int = -1
    """Mask length of the last referral followed (-1: the roots)."""
    negative: ReferralRecord | None = None
    """The answer to give when the current set is exhausted (MS-NOT-REGISTERED or
    NOT-AUTHORITATIVE from a node of the set), if any."""


class DdtResolver(Role):
    name = "map-resolver"
    control_types = frozenset({MessageType.ECM, MessageType.MAP_REQUEST, MessageType.MAP_REFERRAL})

    def __init__(self, roots: Sequence[IPAddress], counters: Counters, drops: DropRecorder) -> None:
        self.roots = list(roots)
        self.counters = counters
        self.drops = drops
        self.cache = ReferralCache()
        self.negatives = ReferralCache()
        """MS-NOT-REGISTERED and DELEGATION-HOLE answers: apart, so that one does not
        replace the MS-REFERRAL of the same prefix (still good once it expires)."""
        self.negative_replies = NegativeReplyEncoder()
        self._pending: dict[int, _Pending] = {}
        self._deadlines: list[tuple[float, int]] = []
        """(deadline, nonce), a heap; entries whose request moved on are skipped."""

    def reconfigure(self, config: NodeConfig, now: float) -> list[Action]:
        """New `[[ddt-roots]]`: what was learnt below the old ones is forgotten (walks under
        way finish with the referral sets they hold)."""
        roots = [root.address for root in config.ddt_roots]
        if roots != self.roots:
            self.roots = roots
            self.cache.clear()
            self.negatives.clear()
            self.counters.add("ddt.cache-flushed")
        return []

    def handle_control(
        self, message: ControlMessage, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        if isinstance(message, MapReferral):
            return self._referral(message, datagram, now)
        return self._request(message, datagram, now)

    # ------------------------------------------------------------ from the ITR

    def _request(
        self, message: ControlMessage, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        asked = read_request(message, datagram, self.drops, now)
        if not isinstance(asked, IncomingRequest):
            return asked
        request, iid, eid, reply_to = asked
        source = str(datagram.source.address)
        if request.nonce in self._pending:
            self.counters.add("ddt.duplicate")
            return []
        if len(self._pending) >= MAX_PENDING:
            return list(self.drops.drop("ddt-pending-full", source, now))
        ecm = datagram.payload
        if not isinstance(message, Ecm):
            encapsulated = encapsulate_plain(request, datagram, eid)
            if encapsulated is None:
                return list(self.drops.drop("no-inner-header", source, now, str(eid)))
            ecm = encapsulated
        cached = self._cached(iid, eid, now)
        if cached is None:
            pending = _Pending(iid, eid, with_ddt_flag(ecm), reply_to, list(self.roots), None)
            return self._ask_next(request.nonce, pending, now)
        self.counters.add("ddt.cache-hit")
        if cached.action in _NEGATIVE:
            self.counters.add("ddt.cache-negative")
            return [self._negative(request.nonce, cached, reply_to)]
        pending = _Pending(
            iid,
            eid,
            with_ddt_flag(ecm),
            reply_to,
            referral_order(cached),
            record_prefix(cached),
            followed_length=cached.eid_mask_len,
        )
        return self._ask_next(request.nonce, pending, now)

    def forward_cached(
        self, payload: bytes, eid: int, reply_to: Endpoint, nonce: int, now: float
    ) -> list[Action] | None:
        """The fast path's common ECM Map-Request (core/ddt_fast_path.py) for the IPv4 EID
        `eid` of instance-id 0: sent on as `_request` would send it when a live referral
        (and no negative entry) holds the EID, counted the same; else None."""
        if nonce in self._pending or len(self._pending) >= MAX_PENDING:
            return None
        cached = self.cache.entry_v4(eid, now)
        if cached is None or (len(self.negatives) and self.negatives.entry_v4(eid, now)):
            return None
        self.counters.add(_IN_ECM)
        self.counters.add("ddt.cache-hit")
        pending = _Pending(
            0,
            IPv4Address(eid),
            with_ddt_flag(payload),
            reply_to,
            list(cached.order),
            cached.prefix,
            followed_length=cached.prefix.network.prefixlen,
        )
        return self._ask_next(nonce, pending, now)

    def take_ms_ack(self, nonce: int, source: IPAddress, eid: int, length: int) -> bool:
        """The fast path's MS-ACK for the IPv4 prefix `eid`/`length` of instance-id 0: True
        when it ends a pending walk (counted as `_referral` counts it), else False."""
        pending = self._pending.get(nonce)
        if pending is None or pending.asked != source or pending.iid != 0:
            return False
        asked = pending.eid
        if asked.version != 4 or (length and (int(asked) ^ eid) >> (32 - length)):
            return False  # not the EID asked for: the general path drops it
        self.counters.add(_IN_REFERRAL)
        self.counters.add("ddt.ms-ack")
        del self._pending[nonce]
        return True

    # ------------------------------------------------------------ the walk

    def _ask_next(self, nonce: int, pending: _Pending, now: float) -> list[Action]:
        if not pending.candidates:
            return self._exhausted(nonce, pending, now)
        node = pending.candidates.pop(0)
        pending.asked = node
        pending.deadline = now + DDT_TIMEOUT
        self._pending[nonce] = pending
        heapq.heappush(self._deadlines, (pending.deadline, nonce))
        self.counters.add("ddt.request")
        self.counters.add("out.ecm")
        return [SendDatagram(pending.request, Endpoint(node, CONTROL_PORT))]

    def _exhausted(self, nonce: int, pending: _Pending, now: float) -> list[Action]:
        """Every node of the current set answered without a referral, or not at all."""
        if pending.negative is not None:
            if not pending.negative.incomplete and pending.negative.ttl:
                self._remember_negative(pending.negative, now)
            return self._finish_negative(nonce, pending.negative, pending)
        if pending.started_at is not None:
            return self._restart(nonce, pending, now)
        self._give_up(nonce)
        return []

    def _restart(self, nonce: int, pending: _Pending, now: float) -> list[Action]:
        """Forget the cached referral the walk began at and walk again from the roots."""
        assert pending.started_at is not None
        self.cache.forget(pending.started_at)
        self.counters.add("ddt.restart")
        pending.started_at = None
        pending.candidates = list(self.roots)
        pending.followed_length = -1
        pending.negative = None
        return self._ask_next(nonce, pending, now)

    def _give_up(self, nonce: int) -> None:
        self._pending.pop(nonce, None)
        self.counters.add("ddt.gave-up")

    def _referral(
        self, message: MapReferral, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        source = str(datagram.source.address)
        pending = self._pending.get(message.nonce)
        if pending is None or pending.asked != datagram.source.address:
            return list(self.drops.drop("ddt-unexpected-referral", source, now))
        if not message.records:
            return list(self.drops.drop("ddt-empty-referral", source, now))
        record = message.records[0]
        prefix = record_prefix(record)
        if prefix is None or prefix.iid != pending.iid or pending.eid not in prefix.network:
            self.drops.drop("ddt-referral-not-holding-eid", source, now, str(prefix))
            return self._ask_next(message.nonce, pending, now)
        action = record.action
        if action is ReferralAction.NOT_AUTHORITATIVE:
            self.counters.add("ddt.not-authoritative")
            if pending.started_at is not None:
                return self._restart(message.nonce, pending, now)
            pending.negative = pending.negative or self._error_record(pending)
            return self._ask_next(message.nonce, pending, now)
        if action is ReferralAction.MS_ACK:
            self.counters.add("ddt.ms-ack")
            del self._pending[message.nonce]
            return []
        if action is ReferralAction.MS_NOT_REGISTERED:
            self.counters.add("ddt.not-registered")
            pending.negative = record
            return self._ask_next(message.nonce, pending, now)
        if action is ReferralAction.DELEGATION_HOLE:
            if not record.incomplete:
                self._remember_negative(record, now)
            return self._finish_negative(message.nonce, record, pending)
        if record.eid_mask_len <= pending.followed_length:
            self.counters.add("ddt.loop")
            if pending.started_at is not None:
                return self._restart(message.nonce, pending, now)
            return self._finish_negative(message.nonce, self._error_record(pending), pending)
        if not record.incomplete:
            self.cache.put(prefix, record, now)
        return self._follow(message.nonce, pending, record, now)

    def _cached(self, iid: int, eid: IPAddress, now: float) -> ReferralRecord | None:
        """The most specific live entry holding `eid`; a negative one on a tie."""
        referral = self.cache.lookup(iid, eid, now)
        negative = self.negatives.lookup(iid, eid, now)
        if referral is None or negative is None:
            return negative or referral
        return negative if negative.eid_mask_len >= referral.eid_mask_len else referral

    def _follow(
        self, nonce: int, pending: _Pending, record: ReferralRecord, now: float
    ) -> list[Action]:
        if pending.depth >= MAX_DEPTH:
            self._give_up(nonce)
            return []
        self.counters.add("ddt.referral")
        pending.depth += 1
        pending.followed_length = record.eid_mask_len
        pending.candidates = referral_order(record)
        pending.negative = None
        return self._ask_next(nonce, pending, now)

    def _remember_negative(self, record: ReferralRecord, now: float) -> None:
        prefix = record_prefix(record)
        assert prefix is not None  # checked to hold the EID
        self.negatives.put(prefix, record, now)

    def _error_record(self, pending: _Pending) -> ReferralRecord:
        """What a loop or NOT-AUTHORITATIVE answers: the EID alone, ERROR_TTL."""
        host = EidPrefix.host(pending.iid, pending.eid)
        return referral_record(ReferralAction.NOT_AUTHORITATIVE, host, ERROR_TTL, incomplete=True)

    def _finish_negative(
        self, nonce: int, record: ReferralRecord, pending: _Pending
    ) -> list[Action]:
        self.counters.add("ddt.negative")
        del self._pending[nonce]
        return [self._negative(nonce, record, pending.reply_to)]

    def _negative(self, nonce: int, record: ReferralRecord, reply_to: Endpoint) -> SendDatagram:
        prefix = record_prefix(record)
        assert prefix is not None  # cached and followed records hold an IP EID
        self.counters.add("out.map-reply")
        return SendDatagram(self.negative_replies.encode(nonce, prefix, record.ttl), reply_to)

    # ------------------------------------------------------------ time

    def on_timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, nonce = heapq.heappop(self._deadlines)
            pending = self._pending.get(nonce)
            if pending is None or pending.deadline != deadline:
                continue  # answered, or asked again since
            self.counters.add("ddt.timeout")
            actions += self._ask_next(nonce, pending, now)
        return actions

    def next_deadline(self) -> float | None:
        while self._deadlines:
            deadline, nonce = self._deadlines[0]
            pending = self._pending.get(nonce)
            if pending is not None and pending.deadline == deadline:
                return deadline
            heapq.heappop(self._deadlines)
        return None

    def show(self, topic: str, arg: str | None, now: float) -> object | None:
        if topic != "referral-cache":
            return None
        return self.cache.to_json(now) + self.negatives.to_json(now)

    def gauges(self) -> dict[str, int]:
        return {
            "referral-cache-entries": len(self.cache) + len(self.negatives),
            "pending-ddt-requests": len(self._pending),
        }
