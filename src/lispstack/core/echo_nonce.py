"""Echo-nonce reachability on active flows (RFC 9300 section 10.1), `[itr] echo-nonce`.

ITR side: a data packet towards an RLOC asks for its nonce back (E bit) at
most once per `REQUEST_EVERY` seconds per RLOC, one request outstanding at a
time. A data packet from that RLOC carrying the nonce (N bit, E clear) is the
echo: the RLOC is confirmed, as by an answered probe. No echo within
`ECHO_TIMEOUT` seconds makes the ITR probe the RLOC (never a direct "down":
the probe decides).

ETR side: a data packet with the E bit leaves its nonce to echo in the next
data packet this node sends to the packet's outer source (that ITR's RLOC).

Pure logic on the caller's clock. Memory: at most `LIMIT` RLOCs on each side
(then afresh: a flood of E bits from spoofed sources costs echoes, not memory).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from lispstack.core.events import IPAddress

REQUEST_EVERY = 1.0
ECHO_TIMEOUT = 3.0
LIMIT = 4096


@dataclass(frozen=True, slots=True)
class HeaderNonce:
    """The nonce of the next data packet to an RLOC, and whether it asks for an echo."""

    nonce: int
    echo_request: bool


class EchoNonce:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._requests: dict[IPAddress, tuple[int, float]] = {}
        """RLOC -> (the nonce asked back, when)."""
        self._asked: dict[IPAddress, float] = {}
        """RLOC -> when its last request left (answered or not)."""
        self._to_echo: dict[IPAddress, int] = {}
        """ITR-RLOC -> the nonce it asked back, for our next packet to it."""

    def sizes(self) -> dict[str, int]:
        return {"requests": len(self._requests), "to-echo": len(self._to_echo)}

    # ------------------------------------------------------------ sending

    def next_nonce(self, rloc: IPAddress, now: float) -> HeaderNonce:
        """The nonce for a data packet to `rloc` now: an echo owed to it first, else a
        request when one is due, else a fresh draw."""
        echo = self._to_echo.pop(rloc, None)
        if echo is not None:
            return HeaderNonce(echo, False)
        nonce = self.rng.getrandbits(24)
        last = self._asked.get(rloc)
        if rloc in self._requests or (last is not None and now - last < REQUEST_EVERY):
            return HeaderNonce(nonce, False)
        if len(self._asked) >= LIMIT:
            self._asked.clear()
        if len(self._requests) >= LIMIT:
            self._requests.clear()
        self._asked[rloc] = now
        self._requests[rloc] = (nonce, now)
        return HeaderNonce(nonce, True)

    # ------------------------------------------------------------ receiving

    def wanted(self, rloc: IPAddress, nonce: int, echo_request: bool) -> bool:
        """Does a data packet from `rloc` concern echo-nonce (`received` must see it)?"""
        if echo_request:
            return True
        request = self._requests.get(rloc)
        return request is not None and request[0] == nonce

    def received(self, rloc: IPAddress, nonce: int, echo_request: bool) -> bool:
        """A data packet from `rloc` with `nonce`: True when it echoes our request."""
        if echo_request:
            if len(self._to_echo) >= LIMIT:
                self._to_echo.clear()
            self._to_echo[rloc] = nonce
            return False
        request = self._requests.get(rloc)
        if request is None or request[0] != nonce:
            return False
        del self._requests[rloc]
        return True

    # ------------------------------------------------------------ timers

    def unanswered(self, now: float) -> list[IPAddress]:
        """The RLOCs whose request has gone `ECHO_TIMEOUT` seconds without an echo
        (forgotten here: the caller probes them)."""
        late = [r for r, (_, sent) in self._requests.items() if now - sent >= ECHO_TIMEOUT]
        for rloc in late:
            del self._requests[rloc]
        return late

    def next_deadline(self) -> float | None:
        return min((sent + ECHO_TIMEOUT for _, sent in self._requests.values()), default=None)
