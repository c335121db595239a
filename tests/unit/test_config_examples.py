"""The example configs of the seed scenario load, with the values the scenario needs."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from pathlib import Path, PurePosixPath

import pytest

from lispstack.config import (
    AuthAlgorithm,
    ConfigError,
    ConfigPrefix,
    NodeRole,
    load_config,
    parse_config,
    render_config,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_lisp1_is_the_site_a_xtr() -> None:
    config = load_config(EXAMPLES / "lisp1.toml")
    assert config.name == "lisp1"
    assert config.roles == (NodeRole.ITR, NodeRole.ETR)
    assert config.has_role("itr") and config.has_role(NodeRole.ETR)
    assert not config.has_role("map-server")
    assert config.node.control_socket == PurePosixPath("/run/lispstack/lisp1.sock")
    (mapping,) = config.database_mappings
    assert mapping.eid_prefix == ConfigPrefix(iid=0, network=ip_network("192.168.1.0/24"))
    (rloc,) = mapping.rlocs
    assert (rloc.address, rloc.priority, rloc.weight) == (ip_address("10.0.1.1"), 1, 100)
    assert (rloc.m_priority, rloc.m_weight) == (255, 0)
    (server,) = config.map_servers
    assert server.address == ip_address("10.0.1.254")
    assert server.auth_key == "site-a-secret"
    assert server.algorithm is AuthAlgorithm.HMAC_SHA_256
    assert (server.proxy_reply, server.want_map_notify, server.register_ttl) == (False, True, 3)
    assert [r.address for r in config.map_resolvers] == [ip_address("10.0.1.254")]
    assert config.itr.send_map_request_on_miss and not config.itr.use_petrs
    assert config.tun.device == "lisp-lisp1"
    assert config.source.endswith("lisp1.toml")


def test_lisp2_is_the_site_b_xtr() -> None:
    config = load_config(EXAMPLES / "lisp2.toml")
    assert config.name == "lisp2"
    assert str(config.database_mappings[0].eid_prefix) == "192.168.2.0/24"
    assert config.database_mappings[0].rlocs[0].address == ip_address("10.0.2.2")
    assert config.map_servers[0].address == ip_address("10.0.2.254")
    assert config.map_servers[0].auth_key == "site-b-secret"


def test_mapserver_has_both_sites_and_their_keys() -> None:
    config = load_config(EXAMPLES / "mapserver.toml")
    assert config.roles == (NodeRole.MAP_SERVER, NodeRole.MAP_RESOLVER)
    site_a, site_b = config.sites
    assert site_a.name == "site-a"
    assert [k.key for k in site_a.keys] == ["site-a-secret"]
    assert site_a.keys[0].key_id == 0 and site_a.keys[0].algorithm is None
    assert [str(p) for p in site_b.eid_prefixes] == ["192.168.2.0/24"]
    next_key = site_b.key(1)
    assert next_key is not None and next_key.algorithm is AuthAlgorithm.HMAC_SHA_1
    assert site_b.key(7) is None
    assert not site_a.accept_more_specifics


def test_pxtr_is_a_proxy_xtr() -> None:
    config = load_config(EXAMPLES / "pxtr.toml")
    assert config.roles == (NodeRole.PITR, NodeRole.PETR)
    assert [str(p) for p in config.pitr.eid_prefixes] == ["192.168.1.0/24", "192.168.2.0/24"]
    assert not config.petr.check_source
    assert config.tun.device == "lisp-pxtr"


@pytest.mark.parametrize("name", ["lisp1", "lisp2", "mapserver", "pxtr"])
def test_examples_round_trip_through_render(name: str) -> None:
    config = load_config(EXAMPLES / f"{name}.toml")
    assert parse_config(render_config(config), "rendered.toml") == config


def test_config_is_frozen() -> None:
    config = load_config(EXAMPLES / "lisp1.toml")
    with pytest.raises(AttributeError):
        config.node.name = "other"  # type: ignore[misc]


def test_unreadable_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert str(info.value).startswith(f"{missing}: cannot read")
