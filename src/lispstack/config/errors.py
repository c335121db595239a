"""The one error of the configuration layer."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration that cannot be used: which file, which key, what is wrong.

    `str(error)` reads `lisp1.toml: map-servers[0].algorithm: unknown algorithm ...`;
    `key` is empty when the problem is not tied to one key (unreadable file,
    invalid TOML). With `reason_names_key` the reason says where itself
    (`lisp1.toml: unknown key 'nmae' in [node] ...`), and `key` is left out of it.
    """

    def __init__(
        self, source: str, key: str, reason: str, *, reason_names_key: bool = False
    ) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        where = f"{source}: {key}" if key and not reason_names_key else source
        super().__init__(f"{where}: {reason}")
