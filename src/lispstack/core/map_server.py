"""The Map-Server role (RFC 9301 section 8.2): authenticated registrations and Map-Notify.

A Map-Register is accepted or dropped as a whole (all or nothing), after
these checks, in this order; a failed check is a counted drop
("drop.<reason>", logged once per source and reason per minute):

    no-records          no mapping record at all
    unsupported-eid     a record whose EID is not an IPv4/IPv6 prefix
    no-site             a record no configured site prefix covers
    mixed-sites         records of different sites in one message
    unknown-key-id      the site has no key with the message's key id
    wrong-algorithm     the key is pinned to the other HMAC algorithm
    auth-failure        the HMAC over the raw bytes does not verify
    prefix-not-allowed  a record more specific than its site prefix, in a
                        site that does not accept more-specifics
    replayed            the nonce is one this site and ETR used in a Map-Register
                        accepted within the replay window (core/replay_window.py;
                        `[map-server] replay-window`, 24 hours by default)

(An authentication data length that does not match the algorithm never gets
here: the node drops the datagram as "malformed".)

Registration state is per (EID prefix, ETR) in a RegistrationStore, the ETR
being its xTR-ID when the Map-Register carries one, else its source RLOC.
A registration lives 3 minutes after its last refresh, or the record TTL
when the T bit asks; a record TTL of 0 deregisters. A host prefix more
specific than its site prefix is a moving EID: a new ETR's registration
replaces the others', which are told (core/moved_eids.py). Map-Requests reach the
registrations through the Map-Resolver role, which calls `resolve()`.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass

from lispstack.config.model import NodeConfig
from lispstack.core.counters import Counters
from lispstack.core.drops import LOG_INTERVAL_S, DropRecorder
from lispstack.core.eid_prefix import record_prefix
from lispstack.core.events import (
    Action,
    DatagramReceived,
    Endpoint,
    ReplicateRegister,
    SendDatagram,
    Trace,
)
from lispstack.core.info_reply import answer_info
from lispstack.core.moved_eids import MoveNotices, is_moving_eid
from lispstack.core.register_refresh import AcceptedRegister, AcceptedRegisters
from lispstack.core.registration_views import registration_entries, site_entries
from lispstack.core.replay_window import ReplayWindow
from lispstack.core.replies import NOT_REGISTERED_TTL, negative_record, proxy_record, proxy_ttl
from lispstack.core.role import Role
from lispstack.core.sites import SitePrefix, SiteTable, key_accepts
from lispstack.core.subscriptions import KnownXtr, Subscriptions, addresses_of
from lispstack.mapping.address_cache import AddressCache
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.registrations import Registration, RegistrationStore
from lispstack.wire.auth import AlgorithmId, HmacKey, sign_encoded, verify_raw
from lispstack.wire.control import ControlMessage, decode_control
from lispstack.wire.errors import DecodeError
from lispstack.wire.info import InfoReply, InfoRequest
from lispstack.wire.map_notify import MapNotifyAck, notify_answering
from lispstack.wire.map_register import MapRegister
from lispstack.wire.message_type import MessageType, nonce_text
from lispstack.wire.records import LocatorSets, MappingRecord, new_locator_sets

REGISTRATION_LIFETIME_S = 180.0
DEFAULT_REPLAY_WINDOW_S = 86_400.0
_IN_MAP_REGISTER = f"in.{MessageType.MAP_REGISTER.label}"


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the registrations say about an EID.

    `site` None: no configured prefix holds the EID. `registrations` empty:
    the site exists but nothing live is registered for the EID.
    """

    site: SitePrefix | None
    prefix: EidPrefix | None = None
    registrations: tuple[Registration, ...] = ()


@dataclass(frozen=True, slots=True)
class _Accepted:
    """A Map-Register that passed every check: its site, key and record prefixes."""

    site_prefixes: tuple[SitePrefix, ...]
    prefixes: tuple[EidPrefix, ...]
    key: HmacKey
    etr: str
    current_key: bool = True
    """False: signed with a key a reload replaced (in its grace period), which the
    refresh shortcut must not remember (it would outlive the grace period)."""


def _lifetime(message: MapRegister, record: MappingRecord) -> float:
    """Seconds from a registration's refresh to its expiry."""
    return record.ttl * 60.0 if message.use_ttl_for_timeout else REGISTRATION_LIFETIME_S


class MapServer(Role):
    name = "map-server"
    control_types = frozenset(
        {MessageType.MAP_REGISTER, MessageType.MAP_NOTIFY_ACK, MessageType.INFO}
    )

    def __init__(
        self,
        sites: SiteTable,
        counters: Counters,
        drops: DropRecorder,
        replay_window: float = DEFAULT_REPLAY_WINDOW_S,
        locator_sets: LocatorSets | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.sites = sites
        self.moves = MoveNotices(rng or random.Random())
        self.locator_sets: LocatorSets = (
            new_locator_sets() if locator_sets is None else locator_sets
        )
        """Shared by the records of replicated Map-Registers (the node's, when built by
        build_node: records then share locators whichever worker accepted them)."""
        self.counters = counters
        self.drops = drops
        self.registrations = RegistrationStore()
        self.replay_window = replay_window
        self._nonces = ReplayWindow(replay_window)
        self._shortened_logged = -LOG_INTERVAL_S
        self._last_registered: dict[EidPrefix, float] = {}
        """Per configured site prefix: when a registration under it was last accepted."""
        self._accepted = AcceptedRegisters()
        self.replicating = False
        """Set when the node runs several workers: accepted Map-Registers are then
        also handed on (ReplicateRegister) for the other workers to apply."""
        self._applying_replica = False
        self._source_texts = AddressCache()
        self.subscriptions = Subscriptions(counters, drops, self.published_record)
        """Publish/subscribe (RFC 9437, core/subscriptions.py)."""

    @classmethod
    def from_config(
        cls,
        config: NodeConfig,
        counters: Counters,
        drops: DropRecorder,
        locator_sets: LocatorSets | None = None,
    ) -> MapServer:
        return cls(
            SiteTable(config.sites),
            counters,
            drops,
            config.map_server.replay_window,
            locator_sets,
        )

    # ------------------------------------------------------------ registration

    def handle_control(
        self, message: ControlMessage, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        if isinstance(message, MapRegister):
            return self._register(message, datagram, now)
        if isinstance(message, InfoRequest | InfoReply):
            return answer_info(message, datagram, self.sites, self.counters, self.drops, now)
        if isinstance(message, MapNotifyAck):
            if self.moves.acknowledged(message, datagram.payload):  # of a move notice
                self.counters.add("map-notify-ack.moved")
                return []
            source = str(datagram.source.address)  # else of a subscriber's Map-Notify
            return self.subscriptions.acknowledged(message.nonce, datagram.payload, source, now)
        return list(self.drops.drop("unexpected-message", str(datagram.source.address), now))

    def _register(
        self, message: MapRegister, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        # Interned: a million registrations from a few ETRs then share a few strings.
        source = sys.intern(self._source_texts.text(datagram.source.address))
        checked = self._check(message, datagram.payload, source, now)
        if not isinstance(checked, _Accepted):
            return checked
        actions: list[Action] = []
        stored: list[Registration | None] = []
        changed: list[EidPrefix] = []
        for record, prefix, site_prefix in zip(
            message.records, checked.prefixes, checked.site_prefixes, strict=True
        ):
            before = self.registrations.get(prefix, checked.etr)
            if before is None or before.record != record:
                changed.append(prefix)
            registration, trace = self._store(
                message, record, prefix, site_prefix, checked.etr, source, now
            )
            stored.append(registration)
            if trace is not None:
                actions.append(trace)
                if registration is not None and is_moving_eid(prefix, site_prefix):
                    replaced, notices = self.moves.replace(
                        self.registrations,
                        registration,
                        message.key_id,
                        message.algorithm,
                        checked.key,
                    )
                    self.counters.add("registrations.moved", replaced)
                    actions.extend(notices)
        if message.xtr_id is not None and checked.current_key:
            known = KnownXtr(
                checked.site_prefixes[0].site.name,
                checked.key,
                message.key_id,
                message.algorithm,
                addresses_of(datagram.source.address, message.records),
            )
            self.subscriptions.registered(message.xtr_id.xtr_id, known)
        self.counters.add("map-register.accepted")
        site = checked.site_prefixes[0].site.name
        actions.extend(self._remember_nonce((site, checked.etr), message.nonce, now))
        if checked.current_key:
            self._remember(message, datagram, checked, stored)
        if self.replicating:
            actions.append(ReplicateRegister(datagram.payload, datagram.source))
        if message.want_map_notify:
            i_bit = message.xtr_id is not None
            key = checked.key
            actions.append(
                self._notify(datagram.payload, i_bit, message.algorithm, key, datagram.source)
            )
        actions.extend(self.subscriptions.changed(changed, now))
        return actions

    def published_record(self, prefix: EidPrefix, now: float) -> MappingRecord:
        """What subscribers of `prefix` are told: the merged RLOCs of its live ETRs,
        as a proxy reply has them, or a negative record when none is left."""
        live = [r for r in self.registrations.registrations(prefix) if r.expires_at > now]
        if not live:
            return negative_record(prefix, NOT_REGISTERED_TTL)
        return proxy_record(prefix, live, proxy_ttl(live))

    def _remember(
        self,
        message: MapRegister,
        datagram: DatagramReceived,
        checked: _Accepted,
        stored: list[Registration | None],
    ) -> None:
        """Keep what an accepted Map-Register did, for its refreshes (not one that deregisters)."""
        registrations = tuple(r for r in stored if r is not None)
        if not registrations or len(registrations) != len(stored):
            return
        accepted = AcceptedRegister(
            source=datagram.source.address,
            registrations=registrations,
            records=tuple(r.record for r in registrations),
            proxy_reply=message.proxy_reply,
            registered_by=registrations[0].registered_by,
            lifetimes=self._accepted.shared(
                tuple(_lifetime(message, record) for record in message.records)
            ),
            site_prefixes=tuple(dict.fromkeys(s.prefix for s in checked.site_prefixes)),
            key=checked.key,
            algorithm=message.algorithm,
            want_map_notify=message.want_map_notify,
            i_bit=message.xtr_id is not None,
        )
        self._accepted.remember(datagram.payload, accepted)

    def refresh_from_bytes(self, datagram: DatagramReceived, now: float) -> list[Action] | None:
        """Do again what an accepted Map-Register did, for a refresh of it; else None.

        See core/register_refresh.py. None leaves the datagram to the general
        path, which counts it and decides on it (a replay, a failed HMAC).
        """
        payload = datagram.payload
        if not payload or payload[0] >> 4 != MessageType.MAP_REGISTER:
            return None
        accepted = self._accepted.find(payload, datagram.source.address)
        if accepted is None:
            return None
        nonce = int.from_bytes(payload[4:12], "big")
        first = accepted.registrations[0]
        site_etr = (first.site, first.etr)
        if self._nonces.seen(site_etr, nonce) or not verify_raw(payload, accepted.key):
            return None
        self.counters.add(_IN_MAP_REGISTER)
        for registration, lifetime in zip(accepted.registrations, accepted.lifetimes, strict=True):
            self.registrations.renew(registration, nonce, now, now + lifetime)
            registration.replica = self._applying_replica
        for site_prefix in accepted.site_prefixes:
            self._last_registered[site_prefix] = now
        count = len(accepted.registrations)
        self.counters.add("registrations.accepted", count)
        self.counters.add("registrations.refreshed", count)
        self.counters.add("map-register.accepted")
        actions = self._remember_nonce(site_etr, nonce, now)
        if self.replicating:
            actions.append(ReplicateRegister(payload, datagram.source))
        if accepted.want_map_notify:
            etr = datagram.source
            actions.append(
                self._notify(payload, accepted.i_bit, accepted.algorithm, accepted.key, etr)
            )
        return actions

    def apply_replica(self, datagram: DatagramReceived, now: float) -> None:
        """Take in a Map-Register that another worker of this node accepted.

        The registrations come out as on that worker, but nothing is answered,
        traced or counted here: the accepting worker did all of that. (The
        counters and drop recorder are swapped for throwaway ones meanwhile.)
        """
        counters, drops, replicating = self.counters, self.drops, self.replicating
        self.counters = Counters()
        self.drops = DropRecorder(self.counters)
        self.replicating = False
        self._applying_replica = True
        try:
            if self.refresh_from_bytes(datagram, now) is None:
                message = decode_control(datagram.payload, locator_sets=self.locator_sets)
                if isinstance(message, MapRegister):
                    self._register(message, datagram, now)
        except DecodeError:
            pass  # not from a worker of ours: a worker replicates only what it accepted
        finally:
            self.counters, self.drops, self.replicating = counters, drops, replicating
            self._applying_replica = False

    def _check(
        self, message: MapRegister, payload: bytes, source: str, now: float
    ) -> _Accepted | list[Action]:
        """The accepted message, or the drop (every record must pass: all or nothing)."""

        def drop(reason: str, detail: str = "") -> list[Action]:
            return list(self.drops.drop(reason, source, now, detail))

        if not message.records:
            return drop("no-records")
        prefixes: list[EidPrefix] = []
        for record in message.records:
            prefix = record_prefix(record)
            if prefix is None:
                return drop("unsupported-eid", str(record.eid))
            prefixes.append(prefix)
        site_prefixes: list[SitePrefix] = []
        for prefix in prefixes:
            site_prefix = self.sites.site_for(prefix)
            if site_prefix is None:
                return drop("no-site", str(prefix))
            site_prefixes.append(site_prefix)
        site = site_prefixes[0].site
        if any(s.site is not site for s in site_prefixes):
            return drop("mixed-sites", ", ".join(sorted({s.site.name for s in site_prefixes})))
        key = self.sites.key(site, message.key_id)
        if key is None:
            return drop("unknown-key-id", f"site {site.name}, key id {message.key_id}")
        if not key_accepts(key.config, message.algorithm):
            return drop("wrong-algorithm", f"site {site.name}, {message.algorithm.label}")
        current_key = verify_raw(payload, key.hmac)
        if not current_key:
            previous = self.sites.previous_key(site, message.key_id, now)
            if previous is None or not verify_raw(payload, previous.hmac):
                return drop("auth-failure", f"site {site.name}, key id {message.key_id}")
            self.counters.add("map-register.previous-key")
            key = previous
        for site_prefix, prefix in zip(site_prefixes, prefixes, strict=True):
            if not site_prefix.allows(prefix):
                return drop("prefix-not-allowed", f"{prefix} in site {site.name}")
        etr = sys.intern(f"{message.xtr_id.xtr_id:032x}") if message.xtr_id else source
        if self._nonces.seen((site.name, etr), message.nonce):
            return drop("replayed", f"site {site.name}, nonce {nonce_text(message.nonce)}")
        return _Accepted(tuple(site_prefixes), tuple(prefixes), key.hmac, etr, current_key)

    def _remember_nonce(self, site_etr: tuple[str, str], nonce: int, now: float) -> list[Action]:
        """Remember an accepted Map-Register's nonce; a rate-limited trace when a bound
        made the window forget nonces early (what it forgets is counted)."""
        nonces = self._nonces
        before = nonces.shortened
        nonces.add(site_etr, nonce, now)
        if nonces.shortened == before:
            return []
        self.counters.add("replay-window.shortened", nonces.shortened - before)
        if now - self._shortened_logged < LOG_INTERVAL_S:
            return []
        self._shortened_logged = now
        site, etr = site_etr
        fields: dict[str, object] = {"site": site, "etr": etr, "remembered": len(nonces)}
        return [Trace("replay-window-shortened", fields)]

    def _store(
        self,
        message: MapRegister,
        record: MappingRecord,
        prefix: EidPrefix,
        site_prefix: SitePrefix,
        etr: str,
        source: str,
        now: float,
    ) -> tuple[Registration | None, Trace | None]:
        """The registration the record leaves stored (None: it deregistered), and its trace."""
        site = site_prefix.site.name

        def fields() -> dict[str, object]:
            return {"site": site, "eid": prefix, "etr": source}

        if record.ttl == 0:
            if self.registrations.remove(prefix, etr) is None:
                return None, None
            self.counters.add("registrations.deregistered")
            return None, Trace("deregistered", fields())
        lifetime = _lifetime(message, record)
        new = Registration(
            site=site,
            prefix=prefix,
            etr=etr,
            record=record,
            registered_by=source,
            proxy_reply=message.proxy_reply,
            xtr_id=message.xtr_id.xtr_id if message.xtr_id else None,
            nonce=message.nonce,
            replica=self._applying_replica,
            first_registered=now,
            last_registered=now,
            expires_at=now + lifetime,
        )
        refreshed = self.registrations.put(new)
        self._last_registered[site_prefix.prefix] = now
        self.counters.add("registrations.accepted")
        if refreshed is not None:
            self.counters.add("registrations.refreshed")
            return refreshed, None
        return new, Trace("registered", fields())

    def _notify(
        self, register: bytes, i_bit: bool, algorithm: AlgorithmId, key: HmacKey, etr: Endpoint
    ) -> SendDatagram:
        """The Map-Notify: same nonce, records, key id and algorithm, signed with the same key."""
        encoded = sign_encoded(notify_answering(register, i_bit=i_bit), algorithm, key)
        self.counters.add("out.map-notify")
        return SendDatagram(encoded, etr)

    # ------------------------------------------------------------ reload

    def reconfigure(self, config: NodeConfig, now: float) -> list[Action]:
        """Take the new `[[sites]]`: registrations stay unless no site allows them any
        more; a changed key's predecessor stays valid for the site's previous-key-grace."""
        sites = SiteTable(config.sites)
        sites.keep_previous_keys(self.sites, now)
        self.subscriptions.forget_sites([s.name for s in self.sites.sites if s not in sites.sites])
        self.sites = sites
        self._accepted = AcceptedRegisters()  # remembered with keys that may be gone
        actions: list[Action] = []
        removed: list[EidPrefix] = []
        for prefix, registration in self.registrations.items():
            site_prefix = sites.site_for(prefix)
            if (
                site_prefix is None
                or site_prefix.site.name != registration.site
                or not site_prefix.allows(prefix)
            ):
                self.registrations.remove(prefix, registration.etr)
                removed.append(prefix)
                self.counters.add("registrations.unconfigured")
                fields = {"site": registration.site, "eid": prefix, "etr": registration.etr}
                actions.append(Trace("registration-unconfigured", fields))
        self.registrations.generation += 1  # answers cached from the old sites are stale
        actions.extend(self.subscriptions.changed(removed, now))
        return actions

    # ------------------------------------------------------------ lookups

    def resolve(self, iid: int, eid: IPAddress, now: float) -> Resolution:
        """The site holding `eid` and the live registrations of its most specific prefix."""
        site = self.sites.site_for_eid(iid, eid)
        if site is None:
            return Resolution(None)
        found = self.registrations.lookup(iid, eid)
        if found is None or not site.prefix.contains(found[0]):
            # Nothing registered, or only a less specific prefix of another site.
            return Resolution(site)
        prefix, registrations = found
        live = tuple(r for r in registrations if r.expires_at > now)
        return Resolution(site, prefix, live)

    # ------------------------------------------------------------ timers and show

    def on_timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        expired_prefixes: list[EidPrefix] = []
        for expired in self.registrations.expire(now):
            expired_prefixes.append(expired.prefix)
            if expired.replica:
                continue  # the worker that accepted it counts and logs it
            self.counters.add("registrations.expired")
            actions.append(
                Trace(
                    "registration-expired",
                    {
                        "site": expired.site,
                        "eid": expired.record.eid_text,
                        "iid": expired.record.iid,
                        "etr": expired.registered_by,
                    },
                )
            )
        self._nonces.forget_expired(now)
        actions.extend(self.subscriptions.on_timer(now))  # expired subscriptions first
        actions.extend(self.subscriptions.changed(expired_prefixes, now))
        return actions

    def next_deadline(self) -> float | None:
        deadlines = (self.registrations.next_deadline(), self.subscriptions.next_deadline())
        return min((d for d in deadlines if d is not None), default=None)

    def gauges(self) -> dict[str, int]:
        return {"registrations": len(self.registrations), "subscriptions": len(self.subscriptions)}

    def show(self, topic: str, arg: str | None, now: float) -> object | None:
        if topic == "sites":
            return site_entries(self.sites, self.registrations, self._last_registered, now)
        if topic == "registrations":
            return registration_entries(self.registrations, arg, now)
        if topic == "subscriptions":
            return self.subscriptions.entries(now)
        return None
