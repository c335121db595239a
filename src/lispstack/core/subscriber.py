"""The ITR's side of publish/subscribe (RFC 9437): which Map-Notifies to believe.

With `[itr] subscribe = true` every Map-Request the ITR sends through a
Map-Resolver subscribes (N bit in its EID record, I bit with the node's
xTR-ID and site-ID, those of its Map-Registers). The Map-Server answers an
accepted subscription with a Map-Notify under the request's nonce, and each
later Map-Notify of that subscription under the previous nonce plus one.

A Map-Notify for us is believed when
  - it verifies with the key of one of our Map-Servers (`[[map-servers]]`:
    the Map-Server signs with the key of the site we register in), else it
    is dropped as "map-notify-bad-auth";
  - it carries our xTR-ID, else "map-notify-not-ours";
  - its nonce is the next one of a subscription: a subscribing request's
    nonce, or one of the WINDOW nonces after the last one accepted (a newer
    change may replace a Map-Notify that never arrived), else
    "map-notify-unknown-subscription". A nonce accepted before is a
    retransmission (our Map-Notify-Ack was lost): acknowledged again, not
    applied again, so an old Map-Notify replayed cannot roll a mapping back.
The nonces remembered are bounded (the oldest are forgotten first).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable

from lispstack.wire.auth import HmacKey, verify_raw
from lispstack.wire.xtr_id import XtrId

WINDOW = 8
MAX_NONCES = 200_000
_NONCE_MASK = (1 << 64) - 1


class NotifyNonce(enum.Enum):
    NEW = "new"
    REPEAT = "repeat"
    UNKNOWN = "unknown"


class Subscriber:
    def __init__(
        self, xtr_id: XtrId, keys: Callable[[], Iterable[HmacKey]], limit: int = MAX_NONCES
    ) -> None:
        self.xtr_id = xtr_id
        self.keys = keys
        """The keys of our Map-Servers (read at each Map-Notify: a reload may change them)."""
        self.limit = limit
        self._expected: dict[int, None] = {}
        """Nonces that start a chain: subscribing requests', and the last accepted's next."""
        self._accepted: dict[int, None] = {}

    def expect(self, nonce: int) -> None:
        """A subscribing Map-Request went out with `nonce`."""
        _remember(self._expected, nonce, self.limit)

    def key_for(self, payload: bytes) -> HmacKey | None:
        """The key of ours the Map-Notify verifies with, if any."""
        return next((key for key in self.keys() if verify_raw(payload, key)), None)

    def verdict(self, nonce: int) -> NotifyNonce:
        if nonce in self._accepted:
            return NotifyNonce.REPEAT
        if self._chain(nonce) is not None:
            return NotifyNonce.NEW
        return NotifyNonce.UNKNOWN

    def accept(self, nonce: int) -> None:
        """The Map-Notify with `nonce` (NotifyNonce.NEW) was applied: its chain moves on."""
        start = self._chain(nonce)
        if start is not None:
            del self._expected[start]
        _remember(self._expected, (nonce + 1) & _NONCE_MASK, self.limit)
        _remember(self._accepted, nonce, self.limit)

    def _chain(self, nonce: int) -> int | None:
        for back in range(WINDOW):
            start = (nonce - back) & _NONCE_MASK
            if start in self._expected:
                return start
        return None


def _remember(nonces: dict[int, None], nonce: int, limit: int) -> None:
    nonces.pop(nonce, None)
    nonces[nonce] = None
    if len(nonces) > limit:
        del nonces[next(iter(nonces))]
