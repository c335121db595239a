"""NAT traversal keys: `[[sites]] rtrs`, `[etr] nat-traversal`, role `rtr` — one-line errors."""

from __future__ import annotations

import pytest

from lispstack.config import ConfigError, NatTraversalMode, parse_config

XTR = """
[node]
name = "x"
roles = ["itr", "etr"]
[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{ address = "10.0.1.1" }]
[[map-servers]]
address = "10.0.1.254"
auth-key = "k"
[[map-resolvers]]
address = "10.0.1.254"
"""
MS = """
[node]
name = "ms"
roles = ["map-server"]
[[sites]]
name = "a"
auth-key = "k"
eid-prefixes = ["192.168.1.0/24"]
"""


def test_defaults_and_values() -> None:
    assert parse_config(XTR, "x.toml").etr.nat_traversal is NatTraversalMode.AUTO
    off = parse_config(XTR + '[etr]\nnat-traversal = "off"\n', "x.toml")
    assert off.etr.nat_traversal is NatTraversalMode.OFF
    site = parse_config(MS + 'rtrs = ["10.0.4.4", "2001:db8::4"]\n', "ms.toml").sites[0]
    assert [str(a) for a in site.rtrs] == ["10.0.4.4", "2001:db8::4"]
    assert parse_config(MS, "ms.toml").sites[0].rtrs == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            XTR + '[etr]\nnat-traversal = "on"\n',
            "x.toml: etr.nat-traversal: unknown nat-traversal mode 'on' (expected auto or off)",
        ),
        (MS + 'rtrs = ["10.0.4.x"]\n', "x.toml: sites[0].rtrs[0]:"),
        (MS + 'rtrs = ["10.0.4.4", "10.0.4.4"]\n', "x.toml: sites[0].rtrs[1]:"),
        (MS + '[etr]\nnat-traversal = "off"\n', "x.toml: etr: only used by role etr"),
        (
            '[node]\nname = "r"\nroles = ["rtr"]\n',
            "x.toml: map-resolvers: role rtr needs [[map-resolvers]], but it is missing",
        ),
    ],
)
def test_bad_values_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text, "x.toml")
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
