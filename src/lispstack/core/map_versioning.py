"""Map-versioning (RFC 9302): which of two map-versions is newer, and what a data
packet's versions ask of the xTR that receives it.

A map-version is 12 bits; 0 is the null version (the mapping has none) and is
never newer nor older than anything. Otherwise the comparison is RFC 9302's
serial-number arithmetic over N = 12 bits: V2 is newer than V1 when
V2 > V1 and V2 - V1 <= 2**(N-1), or V1 > V2 and V1 - V2 > 2**(N-1); so
after 4095 the next version (1) is newer.

`[[database-mappings]] map-version` gives a mapping its version: the ETR puts
it in its Map-Register and Map-Reply records (the Map-Server's proxy replies
and publications keep it), and an ITR sending from or to versioned mappings
sets the V bit, with the version of its own (source) mapping and the version
it has cached for the destination, instead of the nonce (RFC 9300: N and V
exclude each other). On receipt:

- a destination version older than the ETR's own for that EID prefix: the
  ITR holds a stale mapping; the ETR sends it an SMR (`stale_destination`,
  at most one per ITR and prefix per SMR_INTERVAL_S);
- a source version newer than the one cached for the packet's source EID (or
  cached without a version): the node's ITR asks for that mapping again
  (`Itr.source_version_seen`, rate-limited like an SMR-invoked Map-Request).
"""

from __future__ import annotations

NULL_VERSION = 0
_HALF = 1 << 11
SMR_INTERVAL_S = 1.0
MAX_SMR_TARGETS = 4096


def newer(candidate: int, current: int) -> bool:
    """Is map-version `candidate` newer than `current`? (Never when either is null.)"""
    if candidate in (NULL_VERSION, current) or current == NULL_VERSION:
        return False
    if candidate > current:
        return candidate - current <= _HALF
    return current - candidate > _HALF


def announces_newer(announced: int, cached: int) -> bool:
    """Does a packet's source version say our cached mapping (version `cached`, 0 when
    it has none) is out of date?"""
    if announced == NULL_VERSION:
        return False
    return cached == NULL_VERSION or newer(announced, cached)


class SmrLimiter:
    """At most one SMR per (ITR, EID prefix) per SMR_INTERVAL_S, for stale destination
    versions (a stream of packets must not become a stream of SMRs). Bounded."""

    __slots__ = ("_sent",)

    def __init__(self) -> None:
        self._sent: dict[tuple[object, ...], float] = {}

    def allow(self, key: tuple[object, ...], now: float) -> bool:
        last = self._sent.get(key)
        if last is not None and now - last < SMR_INTERVAL_S:
            return False
        if len(self._sent) >= MAX_SMR_TARGETS:
            self._sent = {k: t for k, t in self._sent.items() if now - t < SMR_INTERVAL_S}
            if len(self._sent) >= MAX_SMR_TARGETS:
                return False
        self._sent[key] = now
        return True
