"""Per-node counters: messages in and out by type, drops by reason, replies by kind,
data packets by instance-id."""

from __future__ import annotations

import functools
from collections import Counter


@functools.cache
def instance_counter(iid: int, event: str) -> str:
    """The counter of data packets of instance-id `iid` by `event` (encapsulated,
    decapsulated, dropped), e.g. "iid.100.encapsulated". Only for instance-ids the node
    serves, so that the names stay few whatever iids arrive."""
    return f"iid.{iid}.{event}"


class Counters:
    """Named monotonic counters, grouped by a dotted prefix (e.g. "drop.bad-auth")."""

    __slots__ = ("_journal", "_values")

    def __init__(self) -> None:
        self._values: Counter[str] = Counter()
        self._journal: list[tuple[str, int]] | None = None

    def add(self, name: str, amount: int = 1) -> None:
        self._values[name] += amount
        if self._journal is not None:
            self._journal.append((name, amount))

    def replay(self, journal: tuple[tuple[str, int], ...]) -> None:
        """`add` every (name, amount) of a journal again."""
        values = self._values
        for name, amount in journal:
            values[name] += amount
        if self._journal is not None:
            self._journal.extend(journal)

    def start_journal(self) -> None:
        """Record every `add` from now on, until `stop_journal`."""
        self._journal = []

    def stop_journal(self) -> tuple[tuple[str, int], ...]:
        """The (name, amount) of every `add` since `start_journal`, in order."""
        journal, self._journal = self._journal or [], None
        return tuple(journal)

    def get(self, name: str) -> int:
        return self._values[name]

    def snapshot(self) -> dict[str, int]:
        """Every counter, sorted by name (the `show statistics --json` object)."""
        return dict(sorted(self._values.items()))
