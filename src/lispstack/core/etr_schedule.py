"""The ETR's Map-Register schedule, one `RegistrationSession` per configured Map-Server.

- A Map-Register goes out at start, when the database changes (`trigger`),
  and every `register-interval` seconds (60 by default) with +-10 % jitter.
- A registration round is one Map-Register, or several when the records do not
  fit in one (core.etr), each with its own nonce.
- With want-map-notify, a round not answered by Map-Notifies carrying each of
  its nonces is sent again after 1, 2, 4, 8, 16, 30, 30 ... seconds, each time
  with fresh nonces (the older nonces stay acceptable, answers to them verified,
  but only the newest round's answers complete the registration).
- Without want-map-notify nothing confirms the registration: the session
  counts as registered once a Map-Register has been sent.

Pure schedule: the ETR builds, signs and sends the messages.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from lispstack.config.model import MapServerEntry
from lispstack.wire.auth import HmacKey

JITTER = 0.1
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 30.0
_REMEMBERED_NONCES = 8


@dataclass(slots=True)
class RegistrationSession:
    server: MapServerEntry
    next_register: float = 0.0
    registered: bool = False
    last_register: float | None = None
    last_notify: float | None = None
    registers_sent: int = 0
    notifies_received: int = 0
    unanswered: int = 0
    """Map-Registers sent since the last Map-Notify (drives the backoff)."""
    outstanding: list[int] = field(default_factory=list)
    """Nonces of Map-Registers still waiting for their Map-Notify (newest last)."""
    waiting: set[int] = field(default_factory=set)
    """The newest round's nonces not answered yet."""
    key: HmacKey = field(init=False, repr=False, compare=False)
    """The Map-Server's key, to sign Map-Registers and verify Map-Notifies."""

    def __post_init__(self) -> None:
        self.key = HmacKey(self.server.auth_key)

    @property
    def state(self) -> str:
        return "registered" if self.registered else "pending"

    def due(self, now: float) -> bool:
        return now >= self.next_register

    def trigger(self, now: float) -> None:
        """Register now (start, or the database changed)."""
        self.next_register = now

    def on_sent(self, nonces: Sequence[int], now: float, rng: random.Random) -> None:
        """A round of Map-Registers with `nonces` has just been handed to the network."""
        self.last_register = now
        self.registers_sent += 1
        if not self.server.want_map_notify:
            self.registered = True
            self.next_register = now + _jittered(self.server.register_interval, rng)
            return
        self.outstanding.extend(nonces)
        del self.outstanding[: -max(_REMEMBERED_NONCES, 2 * len(nonces))]
        self.waiting = set(nonces)
        wait = min(BACKOFF_FIRST * (2**self.unanswered), BACKOFF_CAP)
        self.unanswered += 1
        self.next_register = now + wait

    def on_notify(self, nonce: int, now: float, rng: random.Random) -> bool:
        """A verified Map-Notify arrived: True if it answers one of ours (registered once
        every Map-Register of the newest round is answered)."""
        if nonce not in self.outstanding:
            return False
        self.last_notify = now
        self.notifies_received += 1
        self.waiting.discard(nonce)
        if self.waiting:
            return True
        self.outstanding.clear()
        self.registered = True
        self.unanswered = 0
        base = self.last_register if self.last_register is not None else now
        self.next_register = base + _jittered(self.server.register_interval, rng)
        return True

    def expire(self, now: float) -> None:
        """Forget "registered" once the Map-Server has surely let the registration lapse."""
        confirmed = self.last_notify if self.server.want_map_notify else self.last_register
        if confirmed is not None and now - confirmed >= self.server.register_ttl * 60:
            self.registered = False

    def to_json(self, now: float) -> dict[str, object]:
        return {
            "map_server": str(self.server.address),
            "state": self.state,
            "proxy_reply": self.server.proxy_reply,
            "want_map_notify": self.server.want_map_notify,
            "algorithm": self.server.algorithm.value,
            "registers_sent": self.registers_sent,
            "notifies_received": self.notifies_received,
            "last_register_s": _ago(self.last_register, now),
            "last_map_notify_s": _ago(self.last_notify, now),
            "next_register_in_s": round(max(0.0, self.next_register - now), 3),
        }


def _jittered(interval: float, rng: random.Random) -> float:
    return interval * (1.0 + rng.uniform(-JITTER, JITTER))


def _ago(when: float | None, now: float) -> float | None:
    return None if when is None else round(now - when, 3)
