"""Where a lab keeps its things, and its state file.

Everything a lab makes lives under /run/lispstack/lab/NAME/: state.json,
every node's log (NODE.log), control socket (NODE.sock) and inline config
(NODE.toml), dumpcap's log and the partial captures. Namespaces are named
NAME-NODE. `lab down` removes all of it; a failed `lab up` keeps only the logs.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lispstack.lab.topology import check_lab_name

LAB_ROOT = Path("/run/lispstack/lab")


class LabError(RuntimeError):
    """What went wrong, for the user: which node, and where its log is."""


@dataclass(frozen=True)
class LabFiles:
    """The paths and the state file of the lab called `name`."""

    name: str

    def __post_init__(self) -> None:
        check_lab_name(self.name)

    @property
    def directory(self) -> Path:
        return LAB_ROOT / self.name

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"

    def namespace(self, node: str) -> str:
        return f"{self.name}-{node}"

    def socket(self, node: str) -> Path:
        return self.directory / f"{node}.sock"

    def log(self, node: str) -> Path:
        return self.directory / f"{node}.log"

    def config(self, node: str) -> Path:
        return self.directory / f"{node}.toml"

    def state(self) -> dict[str, Any] | None:
        try:
            state: dict[str, Any] = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return state

    def save(self, state: dict[str, Any]) -> None:
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2))
        temporary.replace(self.state_file)

    def claim(self, state: dict[str, Any]) -> None:
        """Create the state file, or fail if the lab is already up (two `up`s cannot race)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(self.state_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise LabError(
                f"lab '{self.name}' is already up (see: lispstack lab status --name {self.name}; "
                f"to rebuild it: lispstack lab down --name {self.name} first)"
            ) from None
        with os.fdopen(descriptor, "w") as file:
            file.write(json.dumps(state, indent=2))

    def clear_old_logs(self) -> None:
        """Before `up`: the logs a failed earlier start left behind."""
        for log in self.directory.glob("*.log"):
            with contextlib.suppress(OSError):
                log.unlink()

    def remove_all_but_logs(self) -> None:
        for path in self.directory.iterdir() if self.directory.exists() else ():
            if path.suffix != ".log":
                with contextlib.suppress(OSError):
                    path.unlink()

    def tail(self, node: str, lines: int = 15) -> str:
        try:
            return "\n".join(self.log(node).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
