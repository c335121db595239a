"""Publish/subscribe on the Map-Server (RFC 9437).

An ITR subscribes with a Map-Request (through the Map-Resolver) whose EID
record has the N bit, and the I bit with its xTR-ID and site-ID. It is
answered as usual, and, when the subscription is accepted, with a Map-Notify
carrying the current mapping, under the request's nonce. From then on,
whenever a registration of that prefix changes (new RLOC set or record,
deregistration, expiry, a reload that removes it), every subscriber gets a
Map-Notify with the new mapping (the merged RLOCs of the live ETRs, or a
negative record when none is left), under its previous nonce plus one.

Who may subscribe. A Map-Request carries no authentication data, so the
Map-Server accepts a subscription only from an xTR it knows: one that
registered with an xTR-ID (`known`, from each accepted Map-Register), asking
from an address it registered from or registered as an RLOC. The
Map-Notifies are signed with that xTR's site key (the key id and algorithm
of its Map-Registers): only the subscriber can verify them, and nobody can
make the Map-Server send notifications to an address that is not the
subscriber's. Refused subscriptions are counted drops (the Map-Request is
still answered): subscribe-unknown-xtr, subscribe-foreign-itr-rloc,
subscribe-no-site, subscribe-limit.

Retransmission (RFC 9301 section 5.7): a Map-Notify is sent again every
NOTIFY_INTERVAL_S until a Map-Notify-Ack with its nonce verifies with the
subscriber's key, at most NOTIFY_RETRIES times; then the subscriber is
taken for gone and its subscription removed ("subscription.gave-up"). A
newer change replaces a notification still in flight (next nonce).

A subscription lives SUBSCRIPTION_LIFETIME_S after the last Map-Request that
asked for it (an ITR asks again before its cached TTL runs out), and ends
earlier when the subscriber unsubscribes (RFC 9437: a subscribing
Map-Request whose only ITR-RLOC has AFI 0, sent from an address of the
subscriber). At most MAX_SUBSCRIPTIONS are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.events import CONTROL_PORT, Action, Endpoint, SendDatagram, Trace
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.prefix_table import PrefixTable
from lispstack.wire.address import NO_ADDRESS, split_instance_id
from lispstack.wire.auth import AlgorithmId, HmacKey, verify_raw
from lispstack.wire.map_notify import MapNotify
from lispstack.wire.map_request import MapRequest
from lispstack.wire.message_type import nonce_text
from lispstack.wire.records import MappingRecord
from lispstack.wire.xtr_id import XtrId

NOTIFY_INTERVAL_S = 1.0
NOTIFY_RETRIES = 3
SUBSCRIPTION_LIFETIME_S = 86_400.0
"""A day, the default mapping TTL (1440 minutes)."""
MAX_SUBSCRIPTIONS = 10_000
MAX_KNOWN_XTRS = 10_000
_NONCE_MASK = (1 << 64) - 1


@dataclass(slots=True)
class KnownXtr:
    """An xTR that registered with an xTR-ID: its site, key and addresses."""

    site: str
    key: HmacKey
    key_id: int
    algorithm: AlgorithmId
    addresses: frozenset[IPAddress]


@dataclass(slots=True)
class Subscription:
    prefix: EidPrefix
    xtr_id: XtrId
    itr_rloc: IPAddress
    xtr: KnownXtr
    nonce: int
    """The nonce of the last Map-Notify sent (the first: the subscribing request's)."""
    expires: float
    in_flight: bytes | None = None
    sends: int = 0
    next_send: float = 0.0

    def to_json(self, now: float) -> dict[str, object]:
        return {
            "eid": str(self.prefix),
            "xtr_id": f"0x{self.xtr_id.xtr_id:032x}",
            "site": self.xtr.site,
            "itr_rloc": str(self.itr_rloc),
            "nonce": nonce_text(self.nonce),
            "unacknowledged": self.in_flight is not None,
            "expires_in_s": round(self.expires - now, 1),
        }


def is_subscription(request: MapRequest) -> bool:
    """A Map-Request that subscribes (or unsubscribes): the N bit, with an xTR-ID."""
    return request.xtr_id is not None and request.records[0].subscribe


def is_unsubscription(request: MapRequest) -> bool:
    """RFC 9437: a subscribing Map-Request whose only ITR-RLOC is AFI 0."""
    return is_subscription(request) and request.itr_rlocs == (NO_ADDRESS,)


@dataclass
class Subscriptions:
    counters: Counters
    drops: DropRecorder
    records_for: Callable[[EidPrefix, float], MappingRecord]
    """The mapping record the Map-Server publishes for a prefix now (core.map_server)."""
    limit: int = MAX_SUBSCRIPTIONS
    known: dict[int, KnownXtr] = field(default_factory=dict)
    """By xTR-ID, from accepted Map-Registers (the last MAX_KNOWN_XTRS)."""
    _by_key: dict[tuple[int, EidPrefix], Subscription] = field(default_factory=dict)
    _by_prefix: PrefixTable[dict[int, Subscription]] = field(default_factory=PrefixTable)
    """The same subscriptions by prefix, then xTR-ID: what a changed prefix concerns."""
    _in_flight: dict[int, Subscription] = field(default_factory=dict)
    """Subscriptions with an unacknowledged Map-Notify, by its nonce."""
    _deadline: float | None = None

    def __len__(self) -> int:
        return len(self._by_key)

    def registered(self, xtr_id: int, xtr: KnownXtr) -> None:
        """An accepted Map-Register from `xtr_id`: remember who it is."""
        self.known.pop(xtr_id, None)
        self.known[xtr_id] = xtr
        if len(self.known) > MAX_KNOWN_XTRS:
            del self.known[next(iter(self.known))]

    # ------------------------------------------------------------ subscribing

    def subscribe(
        self,
        request: MapRequest,
        itr_rloc: IPAddress,
        prefix: EidPrefix | None,
        source: str,
        now: float,
    ) -> list[Action]:
        """A subscribing Map-Request for `prefix` (None: the EID is in no site) from
        `itr_rloc`: keep the subscription and send the current mapping."""
        assert request.xtr_id is not None
        xtr = self.known.get(request.xtr_id.xtr_id)
        if xtr is None:
            return self._refuse(
                "subscribe-unknown-xtr", source, now, f"0x{request.xtr_id.xtr_id:032x}"
            )
        if itr_rloc not in xtr.addresses:
            return self._refuse("subscribe-foreign-itr-rloc", source, now, str(itr_rloc))
        if prefix is None:
            return self._refuse("subscribe-no-site", source, now, str(request.records[0].eid))
        key = (request.xtr_id.xtr_id, prefix)
        subscription = self._by_key.get(key)
        if subscription is None:
            if len(self._by_key) >= self.limit:
                return self._refuse("subscribe-limit", source, now, str(prefix))
            subscription = Subscription(
                prefix, request.xtr_id, itr_rloc, xtr, request.nonce, now + SUBSCRIPTION_LIFETIME_S
            )
            self._by_key[key] = subscription
            held = self._by_prefix.get(prefix)
            if held is None:
                held = {}
                self._by_prefix[prefix] = held
            held[key[0]] = subscription
            self._wake(subscription.expires)
            self.counters.add("subscription.added")
            trace = Trace("subscribed", {"eid": str(prefix), "itr_rloc": str(itr_rloc)})
        else:  # asked again: a new nonce chain, the latest address and key
            subscription.itr_rloc, subscription.xtr = itr_rloc, xtr
            subscription.expires = now + SUBSCRIPTION_LIFETIME_S
            self.counters.add("subscription.renewed")
            trace = None
        self._settle(subscription)
        subscription.nonce = request.nonce
        actions = self._publish(subscription, self.records_for(prefix, now), now, first=True)
        return actions if trace is None else [trace, *actions]

    def unsubscribe(self, request: MapRequest, source: IPAddress, now: float) -> list[Action]:
        """RFC 9437 unsubscription, accepted from an address of the subscriber."""
        assert request.xtr_id is not None
        xtr = self.known.get(request.xtr_id.xtr_id)
        if xtr is None or source not in xtr.addresses:
            return self._refuse("unsubscribe-unknown-xtr", str(source), now)
        iid, eid = split_instance_id(request.records[0].eid)
        removed = [
            key
            for key in self._by_key
            if key[0] == request.xtr_id.xtr_id
            and isinstance(eid, IPv4Address | IPv6Address)
            and key[1].contains_address(iid, eid)
        ]
        for key in removed:
            self._remove(key)
        self.counters.add("subscription.removed", len(removed))
        return [Trace("unsubscribed", {"by": str(source), "subscriptions": len(removed)})]

    def _refuse(self, reason: str, source: str, now: float, detail: str = "") -> list[Action]:
        return list(self.drops.drop(reason, source, now, detail))

    # ------------------------------------------------------------ publishing

    def changed(self, prefixes: Iterable[EidPrefix], now: float) -> list[Action]:
        """Registrations of these prefixes changed: notify every subscriber of a prefix
        that holds or lies inside one of them (the Map-Notify carries the changed one)."""
        actions: list[Action] = []
        if not self._by_key:
            return actions
        for prefix in dict.fromkeys(prefixes):
            record: MappingRecord | None = None
            concerned = [
                *self._by_prefix.covering_all(prefix),
                *self._by_prefix.more_specifics(prefix),
            ]
            for subscription in [s for _, held in concerned for s in held.values()]:
                record = record or self.records_for(prefix, now)
                self._settle(subscription)
                subscription.nonce = (subscription.nonce + 1) & _NONCE_MASK
                actions.extend(self._publish(subscription, record, now, first=False))
        return actions

    def _publish(
        self, subscription: Subscription, record: MappingRecord, now: float, *, first: bool
    ) -> list[Action]:
        xtr = subscription.xtr
        _, payload = MapNotify(
            nonce=subscription.nonce,
            records=(record,),
            key_id=xtr.key_id,
            algorithm=xtr.algorithm,
            i_bit=True,
            xtr_id=subscription.xtr_id,
        ).signed(xtr.key)
        subscription.in_flight = payload
        subscription.sends = 0
        self._in_flight[subscription.nonce] = subscription
        self.counters.add("out.map-notify.subscription" if first else "out.map-notify.publication")
        trace = Trace(
            "publish",
            {
                "eid": record.eid_text,
                "itr_rloc": str(subscription.itr_rloc),
                "nonce": nonce_text(subscription.nonce),
            },
        )
        return [trace, *self._send(subscription, now)]

    def _send(self, subscription: Subscription, now: float) -> list[Action]:
        assert subscription.in_flight is not None
        subscription.sends += 1
        subscription.next_send = now + NOTIFY_INTERVAL_S
        self._wake(subscription.next_send)
        self.counters.add("out.map-notify")
        return [SendDatagram(subscription.in_flight, Endpoint(subscription.itr_rloc, CONTROL_PORT))]

    def acknowledged(self, nonce: int, payload: bytes, source: str, now: float) -> list[Action]:
        """A Map-Notify-Ack: it ends the retransmission of the Map-Notify with its nonce."""
        subscription = self._in_flight.get(nonce)
        if subscription is None:
            return self._refuse("map-notify-ack-unknown-nonce", source, now, nonce_text(nonce))
        if not verify_raw(payload, subscription.xtr.key):
            return self._refuse("map-notify-ack-bad-auth", source, now)
        self._settle(subscription)
        self.counters.add("in.map-notify-ack.accepted")
        return []

    def _remove(self, key: tuple[int, EidPrefix]) -> None:
        subscription = self._by_key.pop(key)
        self._settle(subscription)
        held = self._by_prefix.get(subscription.prefix)
        if held is not None:
            held.pop(key[0], None)
            if not held:
                del self._by_prefix[subscription.prefix]

    def _settle(self, subscription: Subscription) -> None:
        """No Map-Notify of this subscription is waiting for its ack any more."""
        if subscription.in_flight is not None:
            self._in_flight.pop(subscription.nonce, None)
            subscription.in_flight = None

    def _wake(self, when: float) -> None:
        if self._deadline is None or when < self._deadline:
            self._deadline = when

    # ------------------------------------------------------------ timers and show

    def on_timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if self._deadline is None or self._deadline > now:
            return actions
        for key, subscription in list(self._by_key.items()):
            if subscription.expires <= now:
                self._remove(key)
                self.counters.add("subscription.expired")
                continue
            if subscription.in_flight is None or subscription.next_send > now:
                continue
            if subscription.sends > NOTIFY_RETRIES:
                self._remove(key)
                self.counters.add("subscription.gave-up")
                fields: dict[str, object] = {
                    "eid": str(subscription.prefix),
                    "itr_rloc": str(subscription.itr_rloc),
                }
                actions.append(Trace("subscriber-gone", fields))
                continue
            self.counters.add("out.map-notify.retransmit")
            actions.extend(self._send(subscription, now))
        deadlines = (
            s.next_send if s.in_flight is not None else s.expires for s in self._by_key.values()
        )
        self._deadline = min(deadlines, default=None)
        return actions

    def next_deadline(self) -> float | None:
        return self._deadline

    def forget_sites(self, sites: Sequence[str]) -> None:
        """After a reload: subscribers of sites that are gone, or whose key may have changed,
        must subscribe again (their next Map-Register makes them known again)."""
        gone = set(sites)
        self.known = {i: x for i, x in self.known.items() if x.site not in gone}
        for key, subscription in list(self._by_key.items()):
            if subscription.xtr.site in gone:
                self._remove(key)

    def entries(self, now: float) -> list[dict[str, object]]:
        return [s.to_json(now) for s in self._by_key.values()]


def addresses_of(source: IPAddress, records: Iterable[MappingRecord]) -> frozenset[IPAddress]:
    """Where an xTR may be reached: where its Map-Register came from, and its RLOCs."""
    found: set[IPAddress] = {source}
    for record in records:
        for locator in record.locators:
            if isinstance(locator.address, IPv4Address | IPv6Address):
                found.add(locator.address)
    return frozenset(found)
