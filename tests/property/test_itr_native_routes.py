"""The native routes an ITR asks for always match its map-cache, whatever happens to it.

Random sequences of resolutions (positive, natively-forward, drop and
send-map-request answers of random prefix length and TTL, refreshes and
replacements included), clock steps, expiry sweeps and LRU evictions, then a
shutdown. The emitted InstallNativeRoute / RemoveNativeRoute actions are applied
to a model route table, which must equal, after every step, what the map-cache
holds: one route per cached natively-forwarded prefix that holds no cached
entry of another kind (a throw route there would send that entry's traffic
natively past its mapping). With PETRs configured no route is ever installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address

from hypothesis import example, given, settings
from hypothesis import strategies as st

from helpers.xtr_fixtures import build_xtr, datagram, icmp, lisp1_config
from lispstack.core.events import Action, InstallNativeRoute, RemoveNativeRoute, SendDatagram
from lispstack.core.itr import Itr
from lispstack.core.xtr_cache import CacheEntry
from lispstack.wire.control import decode_control
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import Locator, MappingRecord, MapReplyAction

SOURCE = "192.168.1.1"
PETR = '[[petrs]]\naddress = "10.0.3.3"\n'
KINDS = {
    "positive": MapReplyAction.NO_ACTION,
    "native": MapReplyAction.NATIVELY_FORWARD,
    "no-action": MapReplyAction.NO_ACTION,
    "drop": MapReplyAction.DROP,
    "send-map-request": MapReplyAction.SEND_MAP_REQUEST,
}


@dataclass(frozen=True)
class Resolve:
    """A packet to (top << 30) + 1; a Map-Request it causes is answered with this record.

    renew: if a live entry holds the destination, first move the clock into its
    refresh window, and answer the refresh with a record for the entry's own
    prefix (a replacement, possibly by another kind).
    """

    top: int
    length: int
    kind: str
    ttl_minutes: int
    renew: bool


def _resolve(top: int, length: int, kind: str, ttl_minutes: int) -> Resolve:
    return Resolve(top, length, kind, ttl_minutes, renew=False)


def _renew(top: int, kind: str) -> Resolve:
    return Resolve(top, 0, kind, 15, renew=True)


@dataclass(frozen=True)
class Wait:
    seconds: int


@dataclass(frozen=True)
class Sweep:
    pass


resolutions = st.builds(
    Resolve,
    st.integers(0, 3),
    st.integers(0, 4),
    st.sampled_from(["positive", "positive", "native", "native", *KINDS]),
    st.sampled_from([0, 1, 2, 15]),
    st.booleans(),
)
operations = st.lists(
    st.one_of(
        resolutions,
        resolutions,
        st.builds(Wait, st.sampled_from([0, 1, 59, 61, 121, 901])),
        st.just(Sweep()),
    ),
    max_size=60,
)


class RouteTable:
    """The kernel table as the edge would keep it: a throw route per native prefix."""

    def __init__(self) -> None:
        self.native: set[tuple[int, str]] = set()

    def apply(self, actions: list[Action]) -> None:
        for action in actions:
            key = (getattr(action, "iid", 0), getattr(action, "prefix", ""))
            if isinstance(action, InstallNativeRoute):
                assert key not in self.native, f"installed twice: {key}"
                self.native.add(key)
            elif isinstance(action, RemoveNativeRoute):
                assert key in self.native, f"removed without install: {key}"
                self.native.discard(key)


def _native(entry: CacheEntry) -> bool:
    return not entry.record.locators and entry.action in (
        MapReplyAction.NATIVELY_FORWARD,
        MapReplyAction.NO_ACTION,
    )


def _inside(inner: CacheEntry, outer: CacheEntry) -> bool:
    iid, version, network, length = outer.key
    i_iid, i_version, i_network, i_length = inner.key
    shift = 32 - length
    return (
        (i_iid, i_version) == (iid, version)
        and i_length > length
        and i_network >> shift == network >> shift
    )


def expected_routes(itr: Itr, petrs: bool) -> set[tuple[int, str]]:
    if petrs:
        return set()
    entries = itr.cache.entries()
    return {
        (entry.iid, entry.prefix_text)
        for entry in entries
        if _native(entry)
        and not any(_inside(other, entry) and not _native(other) for other in entries)
    }


def _record(asked: int, length: int, op: Resolve) -> MappingRecord:
    network = asked >> (32 - length) << (32 - length) if length else 0
    return MappingRecord(
        eid=IPv4Address(network),
        eid_mask_len=length,
        ttl=op.ttl_minutes,
        action=KINDS[op.kind],
        locators=(Locator(address=ip_address("10.0.2.2")),) if op.kind == "positive" else (),
    )


def _answer(itr: Itr, actions: list[Action], op: Resolve, length: int, now: float) -> list[Action]:
    """Reply to the Map-Requests among `actions` with op's record (for its own EID)."""
    answers: list[Action] = []
    for action in actions:
        if not isinstance(action, SendDatagram) or action.destination.port != 4342:
            continue
        ecm = decode_control(action.payload)
        assert isinstance(ecm, Ecm) and isinstance(ecm.message, MapRequest)
        asked = int(ecm.destination)
        payload = MapReply(nonce=ecm.message.nonce, records=(_record(asked, length, op),)).encode()
        message = decode_control(payload)
        received = datagram(payload, "10.0.2.2", 4342, "10.0.1.1", 4342)
        answers.extend(itr.handle_control(message, received, now))
    return answers


@settings(max_examples=1000, deadline=None)
@given(st.booleans(), st.integers(1, 5), operations)
# An entry inside a native prefix turns native on refresh: the prefix may have its route.
@example(
    False, 5, [_resolve(0, 2, "positive", 1), _resolve(1, 0, "native", 15), _renew(0, "native")]
)
# A blocked native prefix is refreshed: it stays blocked.
@example(
    False, 5, [_resolve(0, 2, "positive", 15), _resolve(1, 0, "native", 1), _renew(1, "native")]
)
def test_native_routes_follow_the_map_cache(
    petrs: bool, limit: int, ops: list[Resolve | Wait | Sweep]
) -> None:
    extra = f"[itr]\nmap-cache-limit = {limit}\n" + (PETR if petrs else "")
    _, itr, _ = build_xtr(lisp1_config(extra=extra))
    table = RouteTable()
    now = 0.0
    for op in ops:
        if isinstance(op, Wait):
            now += op.seconds
        elif isinstance(op, Sweep):
            table.apply(itr.on_timer(now))
        else:
            destination = IPv4Address((op.top << 30) + 1)
            length = op.length
            entry = itr.cache.find(0, destination, now)
            if op.renew and entry is not None:
                now, length = max(now, entry.expires - 1), entry.key[3]
            actions = itr.handle_tun(icmp(SOURCE, str(destination)), now)
            table.apply(actions)
            table.apply(_answer(itr, actions, op, length, now))
        assert table.native == expected_routes(itr, petrs)
    table.apply(itr.shutdown(now))
    assert table.native == set()
