"""Per-node counters: messages in and out by type, drops by reason, replies by kind."""

from __future__ import annotations

from collections import Counter


class Counters:
    """Named monotonic counters, grouped by a dotted prefix (e.g. "drop.bad-auth")."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        self._values[name] += amount

    def get(self, name: str) -> int:
        return self._values[name]

    def snapshot(self) -> dict[str, int]:
        """Every counter, sorted by name (the `show statistics --json` object)."""
        return dict(sorted(self._values.items()))
