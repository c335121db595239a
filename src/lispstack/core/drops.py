"""Counted drops with rate-limited logging: once per (reason, source) per interval."""

from __future__ import annotations

from lispstack.core.counters import Counters
from lispstack.core.events import Trace

LOG_INTERVAL_S = 60.0
_MAX_REMEMBERED = 4096


class DropRecorder:
    """Counts every drop under "drop.<reason>"; returns a Trace only when it is time to log."""

    __slots__ = ("_counters", "_interval", "_last_logged")

    def __init__(self, counters: Counters, interval: float = LOG_INTERVAL_S) -> None:
        self._counters = counters
        self._interval = interval
        self._last_logged: dict[tuple[str, str], float] = {}

    def remembered(self) -> int:
        """(reason, source) pairs whose last log time is kept (at most 4096)."""
        return len(self._last_logged)

    def drop(self, reason: str, source: str, now: float, detail: str = "") -> list[Trace]:
        self._counters.add(f"drop.{reason}")
        key = (reason, source)
        last = self._last_logged.get(key)
        if last is not None and now - last < self._interval:
            return []
        if len(self._last_logged) >= _MAX_REMEMBERED:
            # A flood from many sources must not grow this table without bound.
            self._last_logged.clear()
        self._last_logged[key] = now
        fields: dict[str, object] = {"reason": reason, "source": source}
        if detail:
            fields["detail"] = detail
        return [Trace("drop", fields)]
