"""The ITR's forwarding decision for one destination, and why (`lispstack show forwarding EID`).

The data path and `show forwarding` take the same decision: the ITR computes
a `ForwardingDecision` without side effects for `show`, with the same rules
as `handle_tun` (see itr.Itr.explain).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    NATIVE = "native"
    ENCAPSULATE = "encapsulate"
    DROP = "drop"
    MAP_REQUEST = "map-request"


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardingDecision:
    destination: str
    source: str | None
    verdict: Verdict
    reason: str
    iid: int = 0
    prefix: str | None = None
    rloc: str | None = None
    map_resolver: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "destination": self.destination,
            "source": self.source,
            "iid": self.iid,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "prefix": self.prefix,
            "rloc": self.rloc,
            "map_resolver": self.map_resolver,
        }


def not_eid_source() -> str:
    return "source not in EID space: native"


def cache_hit(prefix: str, what: str) -> str:
    return f"map-cache hit {prefix}: {what}"


def miss(resolver: str | None) -> str:
    if resolver is None:
        return "miss: no Map-Resolver configured: drop"
    return f"miss: Map-Request to {resolver}"
