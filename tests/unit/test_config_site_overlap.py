"""EID prefixes of two sites that overlap, and the [map-server] table."""

from __future__ import annotations

import pytest

from lispstack.config import ConfigError, parse_config, render_config

TWO_SITES = """
[node]
name = "mapserver"
roles = ["map-server"]

[[sites]]
name = "a"
auth-key = "k"
eid-prefixes = ["10.1.0.0/16", "192.168.0.0/24"]

[[sites]]
name = "b"
auth-key = "k"
eid-prefixes = ["172.16.0.0/12", "10.1.2.0/24"]
"""


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "ms.toml")
    return info.value


def test_a_prefix_inside_another_sites_prefix_names_both_and_the_key() -> None:
    error = _error(TWO_SITES)
    assert error.key == "sites[1].eid-prefixes[1]"
    assert error.reason == (
        "EID prefix 10.1.2.0/24 of site 'b' lies inside 10.1.0.0/16 of site 'a'"
        " (sites[0].eid-prefixes[0]); if 'a' delegates it, set allow-overlap = true in site 'b'"
    )


def test_the_covering_prefix_may_come_second() -> None:
    text = TWO_SITES.replace('"10.1.2.0/24"', '"10.0.0.0/8"')
    error = _error(text)
    assert error.key == "sites[0].eid-prefixes[0]"
    assert "10.1.0.0/16 of site 'a' lies inside 10.0.0.0/8 of site 'b'" in error.reason
    assert "set allow-overlap = true in site 'a'" in error.reason


def test_allow_overlap_on_the_inner_site_accepts_it() -> None:
    text = TWO_SITES.replace(
        'eid-prefixes = ["172.16.0.0/12", "10.1.2.0/24"]',
        'eid-prefixes = ["172.16.0.0/12", "10.1.2.0/24"]\nallow-overlap = true',
    )
    config = parse_config(text, "ms.toml")
    assert [s.allow_overlap for s in config.sites] == [False, True]
    assert parse_config(render_config(config), "again.toml") == config


def test_other_instance_ids_and_families_and_one_site_do_not_overlap() -> None:
    for prefixes in (
        '["[5]10.1.2.0/24"]',
        '["::/0"]',
        '["172.16.0.0/12"]',
    ):
        text = TWO_SITES.replace('["172.16.0.0/12", "10.1.2.0/24"]', prefixes)
        assert len(parse_config(text, "ms.toml").sites) == 2
    one_site = TWO_SITES.replace('"192.168.0.0/24"', '"10.1.3.0/24"').replace(
        '"10.1.2.0/24"', '"10.2.0.0/16"'
    )
    assert len(parse_config(one_site, "ms.toml").sites) == 2


def test_replay_window() -> None:
    base = parse_config(TWO_SITES.replace('"10.1.2.0/24"', '"10.2.0.0/16"'), "ms.toml")
    assert base.map_server.replay_window == 86_400
    text = render_config(base).replace("replay-window = 86400", "replay-window = 600")
    assert parse_config(text, "ms.toml").map_server.replay_window == 600
    error = _error(text.replace("replay-window = 600", "replay-window = 10"))
    assert (error.key, error.reason) == (
        "map-server.replay-window",
        "10 out of range 180-2592000",
    )


def test_the_map_server_table_is_for_the_map_server_role() -> None:
    text = TWO_SITES.replace('roles = ["map-server"]', 'roles = ["map-resolver"]')
    error = _error(text.split("[[sites]]")[0] + "[map-server]\nreplay-window = 600\n")
    assert error.key == "map-server"
    assert error.reason.startswith("only used by role map-server")
