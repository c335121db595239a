"""Moving EIDs at the Map-Server: a host EID is registered by one xTR at a time.

A host prefix (/32, /128) more specific than its site's configured prefix (so
in a site with `accept-more-specifics`) is a moving EID: an xTR registers it
from a dynamic prefix (core/dynamic_eids.py) once the host sends through it.
When another ETR (another xTR-ID, or another source RLOC without one)
registers it, the host moved: the new registration replaces the others at
once (RFC 9301 leaves the policy to the Map-Server; merging them would send
traffic to where the host was), and each ETR that held it gets an
unsolicited Map-Notify (RFC 9301 section 5.7) carrying the new record,
signed with the key the new Map-Register was signed with (the site's). That
ETR forgets the host and SMRs the ITRs it served, which ask again and
follow the host. The ETR acknowledges with a Map-Notify-Ack; the notice is
sent once (if it is lost, the old xTR withdraws the host when it times out
there, and its answers for it fail meanwhile).
"""

from __future__ import annotations

import random
from collections import OrderedDict
from ipaddress import ip_address

from lispstack.core.events import CONTROL_PORT, Endpoint, SendDatagram, Trace
from lispstack.core.sites import SitePrefix
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.registrations import Registration, RegistrationStore
from lispstack.wire.auth import AlgorithmId, HmacKey, verify_raw
from lispstack.wire.map_notify import MapNotify, MapNotifyAck

MAX_OUTSTANDING = 1024
"""Move notices awaiting their Map-Notify-Ack (the oldest are forgotten first)."""


def is_moving_eid(prefix: EidPrefix, site_prefix: SitePrefix) -> bool:
    """Is `prefix` a host prefix registered under a less specific site prefix?"""
    network = prefix.network
    return network.prefixlen == network.max_prefixlen and prefix != site_prefix.prefix


class MoveNotices:
    """Replaces the other ETRs' registrations of a moved host EID and tells them."""

    __slots__ = ("_outstanding", "rng")

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._outstanding: OrderedDict[int, HmacKey] = OrderedDict()

    def __len__(self) -> int:
        return len(self._outstanding)

    def replace(
        self,
        store: RegistrationStore,
        new: Registration,
        key_id: int,
        algorithm: AlgorithmId,
        key: HmacKey,
    ) -> tuple[int, list[SendDatagram | Trace]]:
        """`new` (a moving EID, just stored) replaces every other ETR's registration of
        its prefix: each is removed, and its ETR gets a Map-Notify with `new`'s record.
        How many were replaced, and the notices."""
        actions: list[SendDatagram | Trace] = []
        replaced = [old for old in store.registrations(new.prefix) if old is not new]
        for old in replaced:
            store.remove(new.prefix, old.etr)
            if new.replica:
                continue  # the worker that accepted it tells the old ETR
            nonce = self.rng.getrandbits(64)
            _, payload = MapNotify(
                nonce=nonce, records=(new.record,), key_id=key_id, algorithm=algorithm
            ).signed(key)
            self._outstanding[nonce] = key
            while len(self._outstanding) > MAX_OUTSTANDING:
                self._outstanding.popitem(last=False)
            actions.append(
                SendDatagram(payload, Endpoint(ip_address(old.registered_by), CONTROL_PORT))
            )
            fields = {
                "site": new.site,
                "eid": new.prefix,
                "from": old.registered_by,
                "to": new.registered_by,
            }
            actions.append(Trace("eid-moved", fields))
        return len(replaced), actions

    def acknowledged(self, ack: MapNotifyAck, payload: bytes) -> bool:
        """Does `ack` answer one of our notices (nonce and signature)? Then it is done."""
        key = self._outstanding.get(ack.nonce)
        if key is None or not verify_raw(payload, key):
            return False
        del self._outstanding[ack.nonce]
        return True


def acknowledgement(notice: MapNotify, key: HmacKey) -> bytes:
    """The Map-Notify-Ack of a move notice (the xTR's side): its nonce, key id and
    records, signed with the key that verified it (RFC 9301 section 5.7)."""
    _, ack = MapNotifyAck(
        nonce=notice.nonce,
        records=notice.records,
        key_id=notice.key_id,
        algorithm=notice.algorithm,
        i_bit=notice.xtr_id is not None,
        xtr_id=notice.xtr_id,
    ).signed(key)
    return ack
