"""Counted drops with rate-limited logging: one line per reason per interval.

Every drop is counted under "drop.<reason>". The first drop of a reason is
logged (with its source and detail); the next ones within the interval are
only counted, and the first logged line after the interval carries how many
were left out ("suppressed"). `summary` reports those of a reason that went
quiet, so a flood ends with one line saying how big it was. Reasons are the
role's own fixed names, so what is remembered stays small whatever the
sources.
"""

from __future__ import annotations

from lispstack.core.counters import Counters, instance_counter
from lispstack.core.events import Trace

LOG_INTERVAL_S = 60.0


class DropRecorder:
    """Counts every drop; returns a Trace only when it is time to log."""

    __slots__ = ("_counters", "_interval", "_last_logged", "_suppressed")

    def __init__(self, counters: Counters, interval: float = LOG_INTERVAL_S) -> None:
        self._counters = counters
        self._interval = interval
        self._last_logged: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def remembered(self) -> int:
        """(reason, source) pairs whose last log time is kept (at most 4096)."""
        return len(self._last_logged)

    def drop(
        self, reason: str, source: str, now: float, detail: str = "", iid: int | None = None
    ) -> list[Trace]:
        """`iid`: the data packet's instance-id, one the node serves (also counted as
        that instance's drop)."""
        self._counters.add(f"drop.{reason}")
        if iid is not None:
            self._counters.add(instance_counter(iid, "dropped"))
        last = self._last_logged.get(reason)
        if last is not None and now - last < self._interval:
            self._suppressed[reason] = self._suppressed.get(reason, 0) + 1
            return []
        self._last_logged[reason] = now
        fields: dict[str, object] = {"reason": reason, "source": source}
        if detail:
            fields["detail"] = detail
        suppressed = self._suppressed.pop(reason, 0)
        if suppressed:
            fields["suppressed"] = suppressed
        return [Trace("drop", fields)]

    def summary(self, now: float) -> list[Trace]:
        """One "drops-suppressed" line per reason whose interval has passed with drops
        left out of the log (the daemon asks every interval)."""
        traces = []
        for reason, suppressed in list(self._suppressed.items()):
            if now - self._last_logged[reason] >= self._interval:
                del self._suppressed[reason]
                self._last_logged[reason] = now
                traces.append(
                    Trace(
                        "drops-suppressed",
                        {"reason": reason, "count": suppressed},
                    )
                )
        return traces
