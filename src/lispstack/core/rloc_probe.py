"""RLOC probing (RFC 9301 section 7.1, RFC 9300 section 10): which RLOCs are reachable.

Every `interval` seconds (up to 10 % less: jitter, so that entries cached
together do not stay in step) each positive map-cache entry that was used
since its last round has each of its RLOCs probed: the ITR sends a
Map-Request with the P bit to the RLOC itself (port 4342), and the ETR
answers with a Map-Reply with the P bit. The round trip is kept. A probe
still unanswered at the entry's next round (and at least `answer_wait` old)
is a miss; `misses` misses in a row make the RLOC unreachable, and the first
answered probe makes it reachable again.

Probes leave through one queue at no more than `rate` per second, one at a
time: never a burst, however many entries fall due together. Memory is
bounded by the map-cache: one schedule slot per entry, one state per
(entry, RLOC), at most one queued probe and one nonce per state.

A probe can also be asked for out of turn (`probe_now`: a data packet's
locator-status-bits disagree with what probing knows, RFC 9300 section 10):
it goes to the head of the queue, still within the rate, at most once per
`TRIGGER_SPACING` seconds per RLOC; its answer or miss decides as any probe's.

Pure logic, driven by the ITR's clock (`due`, `next_deadline`); the ITR
builds and sends the messages.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from lispstack.core.events import IPAddress

EntryKey = tuple[int, int, int, int]
"""The map-cache entry's key (core.xtr_cache.EntryKey)."""
ProbeKey = tuple[EntryKey, IPAddress]

DEFAULT_INTERVAL = 60.0
DEFAULT_MISSES = 3
DEFAULT_RATE = 100.0
JITTER = 0.1
"""A round comes up to this fraction of the interval early."""
MAX_ANSWER_WAIT = 2.0
TRIGGER_SPACING = 1.0
"""Seconds between two out-of-turn probes of one RLOC."""


@dataclass(slots=True)
class RlocState:
    """What probing knows of one RLOC of one map-cache entry."""

    reachable: bool = True
    misses: int = 0
    nonce: int = 0
    """The outstanding probe's nonce (0: none)."""
    sent: float = 0.0
    last_probe: float | None = None
    rtt: float | None = None
    queued: bool = False
    triggered: float | None = None
    """When a probe of this RLOC was last asked for out of turn (`probe_now`)."""

    def to_json(self, now: float) -> dict[str, object]:
        up_down = "up" if self.reachable else "down"
        state = "unprobed" if self.last_probe is None else up_down
        return {
            "state": state,
            "misses": self.misses,
            "last_probe_s_ago": None
            if self.last_probe is None
            else round(now - self.last_probe, 3),
            "rtt_ms": None if self.rtt is None else round(self.rtt * 1000.0, 3),
        }


@dataclass(frozen=True, slots=True)
class ReachabilityChange:
    """`address`, an RLOC of the entry `key`, became reachable (True) or unreachable."""

    key: EntryKey
    address: IPAddress
    reachable: bool


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    key: EntryKey
    address: IPAddress
    rtt: float
    change: ReachabilityChange | None


class RlocProber:
    """The probe schedule, the rate-limited send queue and each RLOC's state."""

    def __init__(
        self,
        rng: random.Random,
        *,
        interval: float = DEFAULT_INTERVAL,
        misses: int = DEFAULT_MISSES,
        rate: float = DEFAULT_RATE,
    ) -> None:
        self.rng = rng
        self.interval = interval
        self.misses = misses
        self.spacing = 1.0 / rate
        self.answer_wait = min(interval / 2.0, MAX_ANSWER_WAIT)
        self._rounds: list[tuple[float, EntryKey]] = []
        self._scheduled: dict[EntryKey, float] = {}
        self._states: dict[EntryKey, dict[IPAddress, RlocState]] = {}
        self._entries_of: dict[IPAddress, set[EntryKey]] = {}
        """RLOC -> the entries that hold a state for it (`_states`, by address)."""
        self._queue: deque[ProbeKey] = deque()
        self._nonces: dict[int, ProbeKey] = {}
        self._next_send = 0.0
        self.sent = 0

    @property
    def enabled(self) -> bool:
        return self.interval > 0

    # ------------------------------------------------------------ queries

    def state(self, key: EntryKey, address: IPAddress) -> RlocState | None:
        states = self._states.get(key)
        return None if states is None else states.get(address)

    def states(self, key: EntryKey) -> dict[IPAddress, RlocState]:
        return self._states.get(key, {})

    def sizes(self) -> dict[str, int]:
        """What probing holds, each bounded by the map-cache: schedule, states, queue,
        nonces, RLOCs (the index of states by address)."""
        return {
            "rounds": len(self._rounds),
            "states": sum(len(s) for s in self._states.values()),
            "queued": len(self._queue),
            "nonces": len(self._nonces),
            "rlocs": len(self._entries_of),
        }

    def reachability(self) -> dict[str, int]:
        """Probed RLOCs of cached mappings: how many are up, how many down (metrics)."""
        states = [state for per_entry in self._states.values() for state in per_entry.values()]
        down = sum(not state.reachable for state in states)
        return {"rlocs-reachable": len(states) - down, "rlocs-unreachable": down}

    def next_deadline(self) -> float | None:
        if not self.enabled:
            return None
        deadlines = []
        if self._queue:
            deadlines.append(self._next_send)
        if self._rounds:
            deadlines.append(self._rounds[0][0])
        return min(deadlines, default=None)

    # ------------------------------------------------------------ inputs

    def watch(self, key: EntryKey, now: float) -> None:
        """A positive entry was cached: give it a round (its first within the interval)."""
        if not self.enabled or key in self._scheduled:
            return
        self._schedule(key, now + self.interval * self.rng.random())

    def round_due(self, now: float) -> EntryKey | None:
        """The next entry whose round is due (the caller calls `run_round` for it), or None."""
        while self._rounds and self._rounds[0][0] <= now:
            when, key = heapq.heappop(self._rounds)
            if self._scheduled.get(key) == when:
                del self._scheduled[key]
                return key
        return None

    def run_round(
        self,
        key: EntryKey,
        rlocs: Iterable[IPAddress] | None,
        in_use: bool,
        now: float,
    ) -> list[ReachabilityChange]:
        """Entry `key`'s round: `rlocs` are its probe-able RLOCs now (None: the entry is gone).

        Unanswered probes count as misses; when the entry is in use its RLOCs are queued
        for a probe. Returns the RLOCs whose reachability changed.
        """
        if rlocs is None:
            self.forget(key)
            return []
        wanted = set(rlocs)
        states = self._states.setdefault(key, {})
        for address in [a for a in states if a not in wanted]:
            self._drop_state(key, address, states.pop(address))
        changes: list[ReachabilityChange] = []
        for address in wanted:
            state = self._state_for(key, address)
            if state.nonce and now - state.sent >= self.answer_wait:
                del self._nonces[state.nonce]
                state.nonce = 0
                state.misses += 1
                if state.reachable and state.misses >= self.misses:
                    state.reachable = False
                    changes.append(ReachabilityChange(key, address, False))
            if in_use and not state.nonce and not state.queued:
                state.queued = True
                self._queue.append((key, address))
        jitter = 1.0 - JITTER * self.rng.random()
        self._schedule(key, now + self.interval * jitter)
        return changes

    def next_probe(self, now: float) -> ProbeKey | None:
        """The probe to send now, if the rate allows one (at most one per `spacing` seconds)."""
        if now < self._next_send:
            return None
        while self._queue:
            key, address = self._queue.popleft()
            state = self.state(key, address)
            if state is None or not state.queued:
                continue
            state.queued = False
            self._next_send = now + self.spacing
            return key, address
        return None

    def probe_now(self, key: EntryKey, addresses: Iterable[IPAddress], now: float) -> int:
        """Probe `addresses` of the watched entry `key`, in order, before any other probe.

        How many were queued: none when probing is off or the entry unwatched; an
        RLOC is passed over while a probe of it is outstanding or queued (that probe
        decides), or when its last out-of-turn probe is under TRIGGER_SPACING seconds old.
        """
        if key not in self._scheduled:
            return 0
        picked: list[ProbeKey] = []
        for address in addresses:
            state = self._state_for(key, address)
            recent = state.triggered is not None and now - state.triggered < TRIGGER_SPACING
            if recent or state.nonce or state.queued:
                continue
            state.triggered = now
            state.queued = True
            picked.append((key, address))
        self._queue.extendleft(reversed(picked))
        return len(picked)

    def sent_probe(self, key: EntryKey, address: IPAddress, nonce: int, now: float) -> None:
        state = self._states[key][address]
        state.nonce, state.sent, state.last_probe = nonce, now, now
        self._nonces[nonce] = (key, address)
        self.sent += 1

    def answered(self, nonce: int, now: float) -> ProbeAnswer | None:
        """A Map-Reply with the P bit arrived: the probe it answers, or None if unknown."""
        probe = self._nonces.pop(nonce, None)
        if probe is None:
            return None
        key, address = probe
        state = self._states[key][address]
        state.nonce = 0
        state.misses = 0
        state.rtt = now - state.sent
        change = None
        if not state.reachable:
            state.reachable = True
            change = ReachabilityChange(key, address, True)
        return ProbeAnswer(key, address, state.rtt, change)

    def keys_of(self, address: IPAddress) -> list[EntryKey]:
        """The entries that have `address` among their probed RLOCs."""
        return list(self._entries_of.get(address, ()))

    def confirmed(self, address: IPAddress) -> list[ReachabilityChange]:
        """`address` answered otherwise (an echoed nonce, RFC 9300 section 10.1): as an
        answered probe, in every entry that has it (its outstanding probes stay)."""
        changes: list[ReachabilityChange] = []
        for key in self.keys_of(address):
            state = self._states[key][address]
            state.misses = 0
            if not state.reachable:
                state.reachable = True
                changes.append(ReachabilityChange(key, address, True))
        return changes

    def forget(self, key: EntryKey) -> None:
        for address, state in self._states.pop(key, {}).items():
            self._drop_state(key, address, state)
        self._scheduled.pop(key, None)

    # ------------------------------------------------------------ helpers

    def _state_for(self, key: EntryKey, address: IPAddress) -> RlocState:
        states = self._states.setdefault(key, {})
        state = states.get(address)
        if state is None:
            state = states[address] = RlocState()
            self._entries_of.setdefault(address, set()).add(key)
        return state

    def _drop_state(self, key: EntryKey, address: IPAddress, state: RlocState) -> None:
        entries = self._entries_of[address]
        entries.discard(key)
        if not entries:
            del self._entries_of[address]
        if state.nonce:
            del self._nonces[state.nonce]
        state.queued = False  # its queue slot, if any, is skipped when it comes up

    def _schedule(self, key: EntryKey, when: float) -> None:
        self._scheduled[key] = when
        heapq.heappush(self._rounds, (when, key))
        if len(self._rounds) > 2 * len(self._scheduled) + 64:
            self._rounds = [(w, k) for k, w in self._scheduled.items()]
            heapq.heapify(self._rounds)
