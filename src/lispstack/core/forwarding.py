"""The ITR's forwarding rule, written once, and the decision as `show forwarding EID` reports it.

`decide` maps what the map-cache holds for a destination (an entry's kind, or
nothing) and the ITR's configuration to a `Step`. The ITR builds its table of
steps from it once; the data path (`Itr.handle_tun`) and `show forwarding`
(`Itr.explain`) both read that table, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from lispstack.wire.records import MappingRecord, MapReplyAction


class EntryKind(IntEnum):
    """What a map-cache entry tells the ITR, from its record alone (an index into step tables)."""

    POSITIVE = 0
    """The record has locators: encapsulate to one of them."""
    NATIVE = 1
    """Negative, natively-forward or no-action: not a LISP destination."""
    SEND_MAP_REQUEST = 2
    """Negative, send-map-request: ask again for each destination."""
    DROP = 3
    """Negative, one of the drop actions."""


_NATIVE_ACTIONS = frozenset({MapReplyAction.NATIVELY_FORWARD, MapReplyAction.NO_ACTION})


def entry_kind(record: MappingRecord) -> EntryKind:
    if record.locators:
        return EntryKind.POSITIVE
    if record.action in _NATIVE_ACTIONS:
        return EntryKind.NATIVE
    if record.action is MapReplyAction.SEND_MAP_REQUEST:
        return EntryKind.SEND_MAP_REQUEST
    return EntryKind.DROP


class Step(IntEnum):
    """What the ITR does with an EID-sourced packet."""

    ENCAPSULATE = 0
    """To the map-cache entry's RLOCs."""
    TO_PETR = 1
    """Encapsulate to a Proxy-ETR: the destination is not a LISP site (or not resolved)."""
    NATIVE = 2
    MAP_REQUEST = 3
    """Queue the packet and resolve its destination."""
    DROP = 4


def decide(kind: EntryKind | None, *, map_request_on_miss: bool, petrs: bool) -> Step:
    """The forwarding rule: the map-cache entry's kind (None: no entry) -> the step to take."""
    if kind is EntryKind.POSITIVE:
        return Step.ENCAPSULATE
    if kind is EntryKind.NATIVE:
        return Step.TO_PETR if petrs else Step.NATIVE
    if kind is EntryKind.DROP:
        return Step.DROP
    # No entry, or one that says to ask again.
    if map_request_on_miss:
        return Step.MAP_REQUEST
    return Step.TO_PETR if petrs else Step.DROP


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


NOT_EID_SOURCE = "source not in EID space: native"
