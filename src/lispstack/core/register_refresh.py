"""Refreshes from Map-Registers the Map-Server accepted before, without decoding them again.

An ETR re-registers its prefixes every minute with the same Map-Register but
for the nonce and the authentication data. When the rest of a Map-Register
is what an earlier accepted one from the same source said, and every
registration that one made is still stored, the registrations are refreshed
in place once the HMAC verifies and the nonce is fresh (not one this site and
ETR used within the replay window, core/replay_window.py): the records need not
be decoded or checked against the sites again (the sites are fixed for the
life of the node). "Still stored" means unchanged too: if another message
changed a registration since (other RLOCs, the P bit, another source for the
same xTR-ID), the remembered one no longer holds. Anything else, including a
failed HMAC or a replayed nonce, takes the general path, which decides and
counts it. Tests compare both paths.

Messages are remembered by a 128-bit BLAKE2b digest of those bytes, not the
bytes themselves: a Map-Register of a hundred records is several kilobytes,
and a matching digest is still checked by the HMAC under the site's key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from lispstack.bounded_cache import BoundedCache
from lispstack.core.events import Action, DatagramReceived
from lispstack.mapping.prefix import EidPrefix, IPAddress
from lispstack.mapping.registrations import Registration
from lispstack.wire.auth import AUTH_OFFSET, AlgorithmId, HmacKey
from lispstack.wire.records import MappingRecord

MAX_REMEMBERED = 131_072
MAX_SHARED_LIFETIMES = 1024


@dataclass(frozen=True, slots=True)
class AcceptedRegister:
    """What an accepted Map-Register did, to do it again for the same message."""

    source: IPAddress
    registrations: tuple[Registration, ...]
    records: tuple[MappingRecord, ...]  # what each registration held, as these objects
    proxy_reply: bool
    registered_by: str
    lifetimes: tuple[float, ...]  # per registration, seconds from its refresh to its expiry
    site_prefixes: tuple[EidPrefix, ...]  # the configured prefixes of the records, once each
    key: HmacKey
    algorithm: AlgorithmId
    want_map_notify: bool
    i_bit: bool


def message_digest(payload: bytes) -> bytes | None:
    """The digest of a Map-Register without its nonce and authentication data."""
    auth_end = AUTH_OFFSET + int.from_bytes(payload[14:16], "big")
    if len(payload) < auth_end:
        return None
    view = memoryview(payload)
    digest = hashlib.blake2b(view[:4], digest_size=16)
    digest.update(view[12:AUTH_OFFSET])  # key id, algorithm id, authentication data length
    digest.update(view[auth_end:])
    return digest.digest()


class AcceptedRegisters:
    """Accepted Map-Registers by message digest, at most MAX_REMEMBERED of them.

    When the table is full, new messages are not remembered (ETRs refresh in
    cycles, which any eviction order would defeat) until a sweep of the
    messages that no longer hold (registrations gone or changed since) makes
    room; sweeps are spaced so that each costs at most a few checks per
    message declined.
    """

    __slots__ = ("_by_digest", "_declined", "_last", "_lifetimes")

    def __init__(self) -> None:
        self._by_digest: dict[bytes, AcceptedRegister] = {}
        self._declined = 0
        self._lifetimes: BoundedCache[tuple[float, ...], tuple[float, ...]] = BoundedCache(
            MAX_SHARED_LIFETIMES
        )
        self._last: tuple[bytes, bytes | None] = (b"", None)
        """The last payload `find` looked for, and its digest: `remember` follows
        the general path's acceptance of the same message."""

    def shared(self, lifetimes: tuple[float, ...]) -> tuple[float, ...]:
        """One tuple for equal lifetimes: the messages of a site's ETRs nearly all carry
        as many records with the same lifetime (saves 8 bytes a record)."""
        return self._lifetimes.shared(lifetimes, lifetimes)

    def remember(self, payload: bytes, accepted: AcceptedRegister) -> None:
        digest = self._digest(payload)
        if digest is None:
            return
        if len(self._by_digest) >= MAX_REMEMBERED and not self._swept_room():
            return
        self._by_digest[digest] = accepted

    def _swept_room(self) -> bool:
        self._declined += 1
        if self._declined < MAX_REMEMBERED // 4:
            return False
        self._declined = 0
        self._by_digest = {d: a for d, a in self._by_digest.items() if _still_holds(a)}
        return len(self._by_digest) < MAX_REMEMBERED

    def find(self, payload: bytes, source: IPAddress) -> AcceptedRegister | None:
        """The earlier acceptance of this message from `source`, if it still holds."""
        digest = self._digest(payload)
        if digest is None:
            return None
        accepted = self._by_digest.get(digest)
        if accepted is None or accepted.source != source:
            return None
        if not _still_holds(accepted):
            del self._by_digest[digest]
            return None
        return accepted

    def __len__(self) -> int:
        return len(self._by_digest)

    def _digest(self, payload: bytes) -> bytes | None:
        last_payload, last_digest = self._last
        if payload is last_payload:
            return last_digest
        digest = message_digest(payload)
        self._last = (payload, digest)
        return digest


def _still_holds(accepted: AcceptedRegister) -> bool:
    """Is every registration the message made still stored, and as it left it?"""
    for registration, record in zip(accepted.registrations, accepted.records, strict=True):
        if (
            registration.scheduled != registration.scheduled  # NaN: no longer stored
            or registration.record is not record
            or registration.proxy_reply != accepted.proxy_reply
            or registration.registered_by != accepted.registered_by
        ):
            return False
    return True


def with_refresh(
    refresh: Callable[[DatagramReceived, float], list[Action] | None],
    general: Callable[[DatagramReceived, float], list[Action]],
) -> Callable[[DatagramReceived, float], list[Action]]:
    """A control handler that tries `refresh` first and takes `general` when it declines."""

    def handle(datagram: DatagramReceived, now: float) -> list[Action]:
        actions = refresh(datagram, now)
        return general(datagram, now) if actions is None else actions

    return handle
