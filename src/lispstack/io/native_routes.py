"""The xTR's route table as desired state, applied by one thread, latest state first.

The table (netlink.PolicyRouting's TABLE) holds a base route per EID family,
`default dev <TUN>`, and a `throw` route for every prefix the map-cache says
is forwarded natively. A throw for a default prefix (0.0.0.0/0, ::/0) takes
the place of that family's base route; removing it puts the base route back,
so EID-sourced packets reach the TUN again and the next one is resolved anew.

The event loop only edits the desired state (`add_native`, `remove_native`);
one thread applies, for every prefix whose state changed, the state it has
*when the thread gets to it*. A prefix added then removed before that costs
nothing, and what waits is one entry per distinct prefix (bounded by the
map-cache limit), never a queue of operations. Stopping does not wait for
what is pending: the table is removed whole right after.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable

from lispstack.io.netlink import PolicyRouting

log = logging.getLogger("lispstack.routes")
BATCH = 1024
"""Changes sent at once (a few milliseconds' work for the kernel) before the thread
looks at the desired state again."""
DEFAULTS = {4: "0.0.0.0/0", 6: "::/0"}
WARNING_INTERVAL_S = 60.0


class RouteState(enum.Enum):
    ABSENT = "absent"
    TUN = "tun"
    """The family's base route: default dev <TUN>."""
    THROW = "throw"


class DesiredRoutes:
    """What the table should hold, and which prefixes differ from what was last applied.

    Prefixes are the canonical texts the core emits (e.g. "10.1.0.0/16").
    Not thread-safe: RouteWorker guards it with its lock.
    """

    def __init__(self, base_families: Iterable[int]) -> None:
        self._base = frozenset(DEFAULTS[family] for family in base_families)
        self._native: set[str] = set()
        self._applied: dict[str, RouteState | None] = {}
        """Prefixes whose applied state is not their initial one (None: unknown, it failed)."""
        self._pending: dict[str, None] = {}
        """Prefixes to look at, oldest first (a dict as an ordered set)."""

    def add_native(self, prefix: str) -> None:
        self._native.add(prefix)
        self._pending[prefix] = None

    def remove_native(self, prefix: str) -> None:
        self._native.discard(prefix)
        self._pending[prefix] = None

    def wanted(self, prefix: str) -> RouteState:
        if prefix in self._native:
            return RouteState.THROW
        return RouteState.TUN if prefix in self._base else RouteState.ABSENT

    def applied(self, prefix: str) -> RouteState | None:
        return self._applied.get(prefix, self._initial(prefix))

    def pending(self) -> int:
        return len(self._pending)

    def take(self, limit: int = BATCH) -> list[tuple[str, RouteState]]:
        """Up to `limit` (prefix, state) changes to apply, now recorded as applied."""
        changes: list[tuple[str, RouteState]] = []
        while self._pending and len(changes) < limit:
            prefix = next(iter(self._pending))
            del self._pending[prefix]
            state = self.wanted(prefix)
            if state is self.applied(prefix):
                continue  # e.g. added then removed before this: nothing to do
            changes.append((prefix, state))
            if state is self._initial(prefix):
                self._applied.pop(prefix, None)
            else:
                self._applied[prefix] = state
        return changes

    def failed(self, prefix: str) -> None:
        """Applying `prefix` failed: its state in the kernel is unknown."""
        self._applied[prefix] = None

    def _initial(self, prefix: str) -> RouteState:
        return RouteState.TUN if prefix in self._base else RouteState.ABSENT


class RouteWorker:
    """The thread that applies DesiredRoutes; its tallies reach the node's counters
    through `report`, called from the event loop's thread."""

    def __init__(self, routing: PolicyRouting, tun_index: int, desired: DesiredRoutes) -> None:
        self._routing = routing
        self._tun_index = tun_index
        self._desired = desired
        self._changed = threading.Condition()
        self._stopping = False
        self._tallies: Counter[str] = Counter()
        self._warned = -WARNING_INTERVAL_S
        self._thread = threading.Thread(target=self._run, name="netlink", daemon=True)
        self._thread.start()

    def add_native(self, prefix: str) -> None:
        with self._changed:
            self._desired.add_native(prefix)
            self._changed.notify()

    def remove_native(self, prefix: str) -> None:
        with self._changed:
            self._desired.remove_native(prefix)
            self._changed.notify()

    def report(self, count: Callable[[str, int], None]) -> None:
        """Hand the tallies since the last report to `count` (name, amount)."""
        with self._changed:
            tallies, self._tallies = self._tallies, Counter()
        for name, amount in tallies.items():
            count(name, amount)

    def stop(self) -> None:
        """Stop after the batch in progress; what is still pending is dropped."""
        with self._changed:
            self._stopping = True
            self._changed.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._stopping and not self._desired.pending():
                    self._changed.wait()
                if self._stopping:
                    return
                changes = self._desired.take()
            if changes:
                self._apply(changes)

    def _apply(self, changes: list[tuple[str, RouteState]]) -> None:
        """One batch on one netlink socket (the kernel handles it within the send)."""
        try:
            with self._routing.session() as sock:
                refused = self._routing.apply(
                    sock, [(prefix, state.value) for prefix, state in changes], self._tun_index
                )
        except OSError as error:
            refused = [(prefix, error) for prefix, _ in changes]
        with self._changed:
            self._tallies["routes.applied"] += len(changes) - len(refused)
        if refused:
            self._fail(refused)

    def _fail(self, refused: list[tuple[str, OSError]]) -> None:
        with self._changed:
            for prefix, _ in refused:
                self._desired.failed(prefix)
            self._tallies["routes.failed"] += len(refused)
        now = time.monotonic()
        if now - self._warned >= WARNING_INTERVAL_S:
            self._warned = now
            prefix, error = refused[0]
            log.warning(
                "cannot program the route of %s: %s (%d in this batch; counter routes.failed)",
                prefix,
                error.strerror or error,
                len(refused),
            )
