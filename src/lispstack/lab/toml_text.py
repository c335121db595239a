"""A parsed TOML document (dict) back to TOML text: for node configs written inline in a topology.

Covers what `tomllib` produces from a node config: tables, arrays of tables,
strings, integers, floats, booleans and arrays (of scalars or inline tables).
"""

from __future__ import annotations

import json
from typing import Any


def dumps(document: dict[str, Any]) -> str:
    lines: list[str] = []
    _table(lines, (), document)
    return "\n".join(lines).strip() + "\n"


def _key(key: str) -> str:
    bare = key.replace("-", "").replace("_", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(lines: list[str], path: tuple[str, ...], table: dict[str, Any]) -> None:
    nested = {k: v for k, v in table.items() if isinstance(v, dict) or _is_table_array(v)}
    for key, value in table.items():
        if key not in nested:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in nested.items():
        name = ".".join(_key(part) for part in (*path, key))
        if isinstance(value, dict):
            lines += ["", f"[{name}]"]
            _table(lines, (*path, key), value)
        else:
            for item in value:
                lines += ["", f"[[{name}]]"]
                _table(lines, (*path, key), item)
