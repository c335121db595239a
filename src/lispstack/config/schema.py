"""Every key a node configuration may hold, as a tree (what each means: see `model`).

`table.check_keys` checks every key of a file against it before any value is
read, so a misspelt key (`nmae`, `authkey`, `[nod]`) is reported as unknown,
with the nearest known key, not the required key it stood for as missing.
The readers in `sections` read these keys and no others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Section:
    """A table's keys; a key maps to None (a value) or to the Section of its sub-table(s).

    `many`: the table comes as an array of tables (`[[name]]` or `name = [{...}]`).
    """

    keys: Mapping[str, Section | None]
    many: bool = False

    def label(self, name: str) -> str:
        """How the file writes this table: `[name]` or `[[name]]`."""
        return f"[[{name}]]" if self.many else f"[{name}]"


def _values(*names: str) -> dict[str, Section | None]:
    return dict.fromkeys(names)


RLOCS = Section(_values("address", "priority", "weight", "m-priority", "m-weight"), many=True)
AUTH_KEYS = Section(_values("id", "key", "algorithm"), many=True)

NODE_FILE = Section(
    {
        "node": Section(
            _values(
                "name",
                "roles",
                "control-socket",
                "listen",
                "log-level",
                "log-format",
                "workers",
                "metrics",
            )
        ),
        "database-mappings": Section(
            {
                "eid-prefix": None,
                "rlocs": RLOCS,
                "map-version": None,
                "dynamic": None,
                "dynamic-timeout": None,
                "dynamic-limit": None,
            },
            many=True,
        ),
        "map-servers": Section(
            _values(
                "address",
                "auth-key",
                "key-id",
                "algorithm",
                "proxy-reply",
                "want-map-notify",
                "register-ttl",
                "register-interval",
            ),
            many=True,
        ),
        "map-resolvers": Section(_values("address"), many=True),
        "petrs": Section(_values("address", "priority", "weight"), many=True),
        "sites": Section(
            {
                "name": None,
                "auth-key": None,
                "auth-keys": AUTH_KEYS,
                "eid-prefixes": None,
                "accept-more-specifics": None,
                "allow-overlap": None,
                "previous-key-grace": None,
                "rtrs": None,
            },
            many=True,
        ),
        "map-server": Section(_values("replay-window")),
        "itr": Section(
            _values(
                "map-cache-limit",
                "use-petrs",
                "send-map-request-on-miss",
                "rloc-probe-interval",
                "rloc-probe-misses",
                "rloc-probe-rate",
                "echo-nonce",
                "subscribe",
                "rloc-path-mtu",
            )
        ),
        "etr": Section(_values("nat-traversal")),
        "pitr": Section(_values("eid-prefixes")),
        "tun": Section(_values("device", "mtu")),
        "data-plane": Section(_values("engine")),
        "petr": Section(_values("check-source")),
        "instances": Section(_values("iid", "interfaces", "table", "device"), many=True),
        "ddt-roots": Section(_values("address"), many=True),
        "ddt-prefixes": Section(_values("eid-prefix"), many=True),
        "delegations": Section(
            {
                "eid-prefix": None,
                "kind": None,
                "ttl": None,
                "children": Section(_values("address", "priority", "weight"), many=True),
            },
            many=True,
        ),
    }
)
"""The whole file: its top-level tables."""
