"""The Map-Server role (RFC 9301 section 8.2): authenticated registrations and Map-Notify.

Map-Requests reach the registrations through the Map-Resolver role
(map_resolver.py), which asks `resolve()` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_network

from lispstack.core.counters import Counters
from lispstack.core.drops import DropRecorder
from lispstack.core.events import Action, DatagramReceived, SendDatagram, Trace
from lispstack.core.role import Role
from lispstack.core.sites import SitePrefix, SiteTable
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.registrations import Registration, RegistrationStore
from lispstack.wire.address import split_instance_id
from lispstack.wire.auth import key_bytes, verify_raw
from lispstack.wire.control import ControlMessage
from lispstack.wire.map_notify import MapNotify
from lispstack.wire.map_register import MapRegister
from lispstack.wire.message_type import MessageType
from lispstack.wire.records import MappingRecord

REGISTRATION_LIFETIME_S = 180.0


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the registrations say about an EID."""

    site: SitePrefix | None
    prefix: EidPrefix | None = None
    registrations: tuple[Registration, ...] = ()


def record_prefix(record: MappingRecord) -> EidPrefix | None:
    """The EidPrefix of an IPv4/IPv6 record (None for other EID kinds)."""
    iid, address = split_instance_id(record.eid)
    if not isinstance(address, IPv4Address | IPv6Address):
        return None
    return EidPrefix(iid, ip_network((address, record.eid_mask_len), strict=False))


class MapServer(Role):
    name = "map-server"
    control_types = frozenset({MessageType.MAP_REGISTER, MessageType.MAP_NOTIFY_ACK})

    def __init__(self, sites: SiteTable, counters: Counters, drops: DropRecorder) -> None:
        self.sites = sites
        self.counters = counters
        self.drops = drops
        self.registrations = RegistrationStore()
        self._now = 0.0

    # ------------------------------------------------------------ registration

    def handle_control(
        self, message: ControlMessage, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        self._now = now
        if isinstance(message, MapRegister):
            return self._register(message, datagram, now)
        self.counters.add("map-notify-ack.accepted")
        return []

    def _register(
        self, message: MapRegister, datagram: DatagramReceived, now: float
    ) -> list[Action]:
        source = str(datagram.source.address)
        prefixes = [record_prefix(record) for record in message.records]
        if not message.records or any(p is None for p in prefixes):
            return list(self.drops.drop("unsupported-eid", source, now))
        covering = [self.sites.site_for(p) for p in prefixes if p is not None]
        if any(site is None for site in covering):
            return list(self.drops.drop("no-site", source, now))
        site_prefixes = [s for s in covering if s is not None]
        site = site_prefixes[0].site
        if any(s.site is not site for s in site_prefixes):
            return list(self.drops.drop("mixed-sites", source, now))
        key = self.sites.key(site, message.key_id)
        if key is None:
            return list(self.drops.drop("unknown-key-id", source, now, f"key id {message.key_id}"))
        if key.algorithm is not None and key.algorithm.algorithm_id != message.algorithm:
            return list(self.drops.drop("wrong-algorithm", source, now))
        if not verify_raw(datagram.payload, key_bytes(key.key)):
            self.counters.add("auth-failures")
            return list(self.drops.drop("auth-failure", source, now, f"site {site.name}"))
        for site_prefix, prefix in zip(site_prefixes, prefixes, strict=True):
            assert prefix is not None
            if not site_prefix.allows(prefix):
                return list(self.drops.drop("prefix-not-allowed", source, now, str(prefix)))

        etr = f"{message.xtr_id.xtr_id:032x}" if message.xtr_id else source
        actions: list[Action] = []
        for record, prefix in zip(message.records, prefixes, strict=True):
            assert prefix is not None
            actions.extend(self._store(message, record, prefix, etr, site.name, source, now))
        if message.want_map_notify:
            actions.append(self._notify(message, key.key, datagram))
        return actions

    def _store(
        self,
        message: MapRegister,
        record: MappingRecord,
        prefix: EidPrefix,
        etr: str,
        site: str,
        source: str,
        now: float,
    ) -> list[Action]:
        previous = self.registrations.get(prefix, etr)
        if record.ttl == 0:
            if previous is not None:
                self.registrations.remove(prefix, etr)
                self.counters.add("registrations.deregistered")
                return [Trace("deregistered", {"site": site, "eid": str(prefix), "etr": source})]
            return []
        if previous is not None and previous.nonce == message.nonce:
            self.counters.add("registrations.duplicate")
            return []
        lifetime = record.ttl * 60.0 if message.use_ttl_for_timeout else REGISTRATION_LIFETIME_S
        self.registrations.put(
            prefix,
            etr,
            Registration(
                site=site,
                record=record,
                registered_by=source,
                proxy_reply=message.proxy_reply,
                xtr_id=message.xtr_id.xtr_id if message.xtr_id else None,
                nonce=message.nonce,
                first_registered=previous.first_registered if previous else now,
                last_registered=now,
                expires_at=now + lifetime,
            ),
        )
        self.counters.add("registrations.accepted")
        if previous is None:
            return [Trace("registered", {"site": site, "eid": str(prefix), "etr": source})]
        return []

    def _notify(self, message: MapRegister, key: str, datagram: DatagramReceived) -> SendDatagram:
        _, encoded = MapNotify(
            nonce=message.nonce,
            records=message.records,
            key_id=message.key_id,
            algorithm=message.algorithm,
            i_bit=message.xtr_id is not None,
            xtr_id=message.xtr_id,
        ).signed(key_bytes(key))
        self.counters.add("out.map-notify")
        return SendDatagram(encoded, datagram.source)

    # ------------------------------------------------------------ lookups

    def resolve(self, iid: int, eid: IPAddress) -> Resolution:
        site = self.sites.site_for_eid(iid, eid)
        if site is None:
            return Resolution(None)
        found = self.registrations.lookup(iid, eid)
        if found is None or (
            not site.prefix.contains(found[0]) and not found[0].contains(site.prefix)
        ):
            return Resolution(site)
        prefix, registrations = found
        live = tuple(r for r in registrations if r.expires_at > self._now)
        return Resolution(site, prefix, live)

    # ------------------------------------------------------------ timers and show

    def on_timer(self, now: float) -> list[Action]:
        self._now = now
        actions: list[Action] = []
        for expired in self.registrations.expire(now):
            self.counters.add("registrations.expired")
            actions.append(
                Trace(
                    "registration-expired",
                    {
                        "site": expired.site,
                        "etr": expired.registered_by,
                    },
                )
            )
        return actions

    def next_deadline(self) -> float | None:
        return self.registrations.next_deadline()

    def show(self, topic: str, arg: str | None, now: float) -> object | None:
        if topic == "sites":
            return self._show_sites()
        if topic == "registrations":
            return self._show_registrations(arg, now)
        return None

    def _show_sites(self) -> list[dict[str, object]]:
        registered = {reg.site for _, reg in self.registrations.items()}
        return [
            {
                "site": site.name,
                "eid_prefixes": [str(p) for p in site.eid_prefixes],
                "keys": len(site.keys),
                "accept_more_specifics": site.accept_more_specifics,
                "registered": site.name in registered,
            }
            for site in self.sites.sites
        ]

    def _show_registrations(self, eid: str | None, now: float) -> list[dict[str, object]]:
        entries = self.registrations.items()
        if eid:
            wanted = EidPrefix.parse(eid if "/" in eid else _host(eid))
            entries = [(p, r) for p, r in entries if p.overlaps(wanted)]
        return [
            {
                **reg.record.to_json(),
                "site": reg.site,
                "registered_by": reg.registered_by,
                "proxy_reply": reg.proxy_reply,
                "last_registered_s": round(now - reg.last_registered, 1),
                "expires_in_s": round(reg.expires_at - now, 1),
            }
            for _, reg in entries
        ]


def _host(eid: str) -> str:
    bare = eid.split("]", 1)[-1]
    return f"{eid}/{128 if ':' in bare else 32}"
