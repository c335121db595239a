"""A typed, path-aware view of one TOML table: every read names its key path on error.

`check_keys` first rejects every key the schema does not declare (suggesting
the nearest known one); a getter reads only declared keys, and `done()`
checks that the reader read every key the table holds.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import TypeVar

from lispstack.config.errors import ConfigError
from lispstack.config.schema import Section

T = TypeVar("T")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()
"""Default meaning "the key must be present"."""


def toml_type(value: object) -> str:
    """How TOML calls the type of a value tomllib produced."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    return type(value).__name__


def join(path: str, key: str | int) -> str:
    """`join("map-servers", 0)` -> "map-servers[0]"; `join("node", "name")` -> "node.name"."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def check_keys(data: Mapping[str, object], section: Section, source: str, path: str = "") -> None:
    """Raise a ConfigError for the first key, at any depth, that `section` does not declare.

    Values of the wrong type are left to the readers, which say what they expected.
    """
    for key, value in data.items():
        if key not in section.keys:
            raise _unknown_key(source, path, key, value, section)
        sub = section.keys[key]
        if sub is None:
            continue
        if not path and _written_as_tables(value) and sub.many != isinstance(value, list):
            raise _wrong_shape(source, key, value, section)
        if isinstance(value, dict):
            check_keys(value, sub, source, join(path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    check_keys(item, sub, source, join(join(path, key), index))


def _written_as_tables(value: object) -> bool:
    """`[name]` (a dict) or `[[name]]` (a non-empty list of dicts)."""
    return isinstance(value, dict) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
    )


def _wrong_shape(source: str, key: str, value: object, section: Section) -> ConfigError:
    """`[[map-server]]: map-server is written [map-server] (or did you mean
    [[map-servers]]?)`: a known table name written in the other table shape."""
    many = isinstance(value, list)
    written = f"[[{key}]]" if many else f"[{key}]"
    shaped = {n: sub for n, sub in section.keys.items() if sub is not None and sub.many == many}
    close = difflib.get_close_matches(key, list(shaped), n=1)
    right = "[" + written + "]" if not many else written[1:-1]
    reason = f"{written}: {key} is written {right}"
    if close:
        reason += f" (or did you mean {shaped[close[0]].label(close[0])}?)"
    return ConfigError(source, key, reason, reason_names_key=True)


def _unknown_key(source: str, path: str, key: str, value: object, section: Section) -> ConfigError:
    """`unknown key 'nmae' in [node] (did you mean 'name'?)`, `unknown table [nod] (...)`."""
    close = difflib.get_close_matches(key, list(section.keys), n=1)
    if path:
        where = f"[{path}]" if "[" not in path else path
        hint = f"did you mean '{close[0]}'?" if close else "expected " + ", ".join(section.keys)
        reason = f"unknown key '{key}' in {where} ({hint})"
    else:
        tables = {name: sub.label(name) for name, sub in section.keys.items() if sub is not None}
        expected = ", ".join(tables.values())
        if _written_as_tables(value):
            written = f"[[{key}]]" if isinstance(value, list) else f"[{key}]"
            hint = f"did you mean {tables[close[0]]}?" if close else f"expected {expected}"
            reason = f"unknown table {written} ({hint})"
        else:
            reason = f"unknown key '{key}' at the top level (expected the tables {expected})"
    return ConfigError(source, join(path, key), reason, reason_names_key=True)


class Table:
    """Reads typed values out of one TOML table at `path` of file `source`, whose keys
    `section` declares (and `check_keys` has checked)."""

    def __init__(
        self, data: Mapping[str, object], section: Section, *, source: str, path: str = ""
    ) -> None:
        self.data = data
        self.section = section
        self.source = source
        self.path = path
        self._read: set[str] = set()

    def error(self, key: str | int | None, reason: str) -> ConfigError:
        """A ConfigError for `key` of this table (the table itself when key is None)."""
        return ConfigError(self.source, self.path if key is None else join(self.path, key), reason)

    def child_error(self, path: str, reason: str) -> ConfigError:
        return ConfigError(self.source, path, reason)

    def has(self, key: str) -> bool:
        self._note(key)
        return key in self.data

    def _note(self, key: str) -> None:
        if key not in self.section.keys:
            raise RuntimeError(f"lispstack.config.schema does not declare {join(self.path, key)}")
        self._read.add(key)

    def _child(self, key: str) -> Section:
        child = self.section.keys[key]
        if child is None:
            raise RuntimeError(f"lispstack.config.schema declares {join(self.path, key)} a value")
        return child

    def _raw(self, key: str, default: object, expected: str) -> object:
        self._note(key)
        if key not in self.data:
            if default is REQUIRED:
                raise self.error(key, f"missing required key (expected {expected})")
            return default
        return self.data[key]

    def _typed(self, key: str, value: object, kind: type[T], expected: str) -> T:
        if isinstance(value, bool) and kind is not bool:
            raise self.error(key, f"expected {expected}, got boolean")
        if not isinstance(value, kind):
            raise self.error(key, f"expected {expected}, got {toml_type(value)}")
        return value

    def string(self, key: str, default: str | _Required = REQUIRED) -> str:
        return self._typed(key, self._raw(key, default, "a string"), str, "a string")

    def boolean(self, key: str, default: bool | _Required = REQUIRED) -> bool:
        value = self._raw(key, default, "true or false")
        return self._typed(key, value, bool, "true or false")

    def integer(self, key: str, *, low: int, high: int, default: int | _Required = REQUIRED) -> int:
        expected = f"an integer {low}-{high}"
        value = self._typed(key, self._raw(key, default, expected), int, expected)
        if not low <= value <= high:
            raise self.error(key, f"{value} out of range {low}-{high}")
        return value

    def parsed(self, key: str, parse: Callable[[str], T], default: T | _Required = REQUIRED) -> T:
        """A string turned into a value by `parse`, whose ValueError becomes the reason."""
        self._note(key)
        if key not in self.data:
            if isinstance(default, _Required):
                raise self.error(key, "missing required key")
            return default
        text = self.string(key)
        try:
            return parse(text)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def parsed_list(
        self, key: str, parse: Callable[[str], T], *, required: bool = False
    ) -> tuple[T, ...]:
        """An array of strings, each turned into a value; required means present and non-empty."""
        items = self._array(key, required=required)
        values: list[T] = []
        for index, item in enumerate(items):
            path = join(join(self.path, key), index)
            if isinstance(item, bool) or not isinstance(item, str):
                raise self.child_error(path, f"expected a string, got {toml_type(item)}")
            try:
                values.append(parse(item))
            except ValueError as exc:
                raise self.child_error(path, str(exc)) from None
        return tuple(values)

    def tables(self, key: str, *, required: bool = False) -> tuple[Table, ...]:
        """An array of tables (`[[key]]` or `key = [{...}]`)."""
        items = self._array(key, required=required)
        result: list[Table] = []
        for index, item in enumerate(items):
            path = join(join(self.path, key), index)
            if not isinstance(item, dict):
                raise self.child_error(path, f"expected a table, got {toml_type(item)}")
            result.append(Table(item, self._child(key), source=self.source, path=path))
        return tuple(result)

    def table(self, key: str) -> Table | None:
        """A sub-table (`[key]`), or None when absent."""
        self._note(key)
        if key not in self.data:
            return None
        value = self.data[key]
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {toml_type(value)}")
        return Table(value, self._child(key), source=self.source, path=join(self.path, key))

    def _array(self, key: str, *, required: bool) -> list[object]:
        self._note(key)
        if key not in self.data:
            if required:
                raise self.error(key, "missing required key (expected a non-empty array)")
            return []
        value = self.data[key]
        if not isinstance(value, list):
            raise self.error(key, f"expected an array, got {toml_type(value)}")
        if required and not value:
            raise self.error(key, "must not be empty")
        return value

    def done(self) -> None:
        """Check that the reader read every key the table holds (all declared, by now)."""
        unread = [key for key in self.data if key not in self._read]
        if unread:
            raise RuntimeError(f"the reader of {self.path or 'the file'} left {unread} unread")
