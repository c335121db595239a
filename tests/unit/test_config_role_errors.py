"""Errors across tables: sites and their keys, what roles need, tables no role uses."""

from __future__ import annotations

import pytest

from lispstack.config import ConfigError, NodeRole, parse_config
from lispstack.io.ebpf_engine import open_engine

NODE = '[node]\nname = "n1"\nroles = [{roles}]\n'
MAPPING = '[[database-mappings]]\neid-prefix = "10.1.0.0/16"\nrlocs = [{ address = "192.0.2.1" }]\n'
RESOLVER = '[[map-resolvers]]\naddress = "192.0.2.254"\n'
PETR = '[[petrs]]\naddress = "192.0.2.9"\n'
SITE = '[[sites]]\nname = "{name}"\nauth-key = "k"\neid-prefixes = ["{prefix}"]\n'


def node(*roles: str) -> str:
    return NODE.format(roles=", ".join(f'"{r}"' for r in roles))


def site(name: str = "a", prefix: str = "10.1.0.0/16") -> str:
    return SITE.format(name=name, prefix=prefix)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "n1.toml")
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            node("map-server") + site("a") + site("a", "10.2.0.0/16"),
            "n1.toml: sites[1].name: duplicate site name a (also sites[0])",
            id="duplicate-site-name",
        ),
        pytest.param(
            node("map-server") + site("a") + site("b"),
            "n1.toml: sites[1].eid-prefixes[0]: EID prefix 10.1.0.0/16 already belongs to sites[0]",
            id="prefix-in-two-sites",
        ),
        pytest.param(
            node("map-server")
            + site("a").replace(
                'auth-key = "k"', 'auth-keys = [{ id = 1, key = "x" }, { id = 1, key = "y" }]'
            ),
            "n1.toml: sites[0].auth-keys[1].id: duplicate key id 1 (also auth-keys[0])",
            id="duplicate-key-id",
        ),
        pytest.param(
            node("map-server")
            + site("a").replace(
                'auth-key = "k"', 'auth-key = "k"\nauth-keys = [{ id = 1, key = "x" }]'
            ),
            "n1.toml: sites[0].auth-keys: give auth-key or auth-keys, not both",
            id="auth-key-and-auth-keys",
        ),
        pytest.param(
            node("map-server") + site("a").replace('auth-key = "k"\n', ""),
            "n1.toml: sites[0].auth-key: missing required key (or auth-keys)",
            id="no-auth-key",
        ),
        pytest.param(
            node("map-server")
            + site("a").replace(
                'auth-key = "k"', 'auth-keys = [{ id = 0, key = "x", algorithm = "sha3" }]'
            ),
            "n1.toml: sites[0].auth-keys[0].algorithm: unknown algorithm 'sha3'"
            " (expected hmac-sha-1 or hmac-sha-256)",
            id="bad-site-key-algorithm",
        ),
        pytest.param(
            node("map-server") + site("a").replace('["10.1.0.0/16"]', "[]"),
            "n1.toml: sites[0].eid-prefixes: must not be empty",
            id="site-without-prefixes",
        ),
        pytest.param(
            node("map-server") + site("a").replace('["10.1.0.0/16"]', '["10.1.0.0/16", 5]'),
            "n1.toml: sites[0].eid-prefixes[1]: expected a string, got integer",
            id="site-prefix-wrong-type",
        ),
        pytest.param(
            node("etr") + MAPPING + MAPPING,
            "n1.toml: database-mappings[1].eid-prefix:"
            " duplicate EID prefix 10.1.0.0/16 (also database-mappings[0])",
            id="duplicate-database-mapping",
        ),
        pytest.param(
            node("itr", "etr") + RESOLVER,
            "n1.toml: database-mappings: role etr needs at least one [[database-mappings]],"
            " but it is missing",
            id="etr-without-database-mappings",
        ),
        pytest.param(
            node("itr", "etr") + MAPPING,
            "n1.toml: map-resolvers: role itr needs [[map-resolvers]] (or [[petrs]]),"
            " but it is missing",
            id="itr-without-map-resolvers",
        ),
        pytest.param(
            node("map-server", "map-resolver"),
            "n1.toml: sites: role map-server needs at least one [[sites]], but it is missing",
            id="map-server-without-sites",
        ),
        pytest.param(
            node("pitr") + RESOLVER,
            "n1.toml: pitr: role pitr needs a [pitr] table with eid-prefixes, but it is missing",
            id="pitr-without-pitr-table",
        ),
        pytest.param(
            node("pitr") + '[pitr]\neid-prefixes = ["10.0.0.0/8"]\n',
            "n1.toml: map-resolvers: role pitr needs [[map-resolvers]], but it is missing",
            id="pitr-without-map-resolvers",
        ),
        pytest.param(
            node("pitr") + RESOLVER + "[pitr]\n",
            "n1.toml: pitr.eid-prefixes: missing required key (expected a non-empty array)",
            id="pitr-without-prefixes",
        ),
        pytest.param(
            node("pitr") + RESOLVER + '[pitr]\neid-prefixes = ["10.0.0.0/8", "[100]10.1.0.0/16"]\n',
            "n1.toml: pitr.eid-prefixes[1]: instance-id 100 has no routing domain (add"
            " [[instances]] with iid = 100, its interfaces and a table)",
            id="pitr-instance-id-without-domain",
        ),
        pytest.param(
            node("map-resolver") + site("a"),
            "n1.toml: sites: only used by role map-server, which node.roles does not include",
            id="sites-without-map-server",
        ),
        pytest.param(
            node("map-server", "map-resolver") + site("a") + "[tun]\nmtu = 1500\n",
            "n1.toml: tun: only used by roles itr, etr, pitr or petr,"
            " which node.roles does not include",
            id="tun-without-data-plane",
        ),
        pytest.param(
            node("map-server")
            + site("a")
            + '[[instances]]\niid = 1\ninterfaces = ["e"]\ntable = 9\n',
            "n1.toml: instances: only used by roles itr, etr, pitr or petr,"
            " which node.roles does not include",
            id="instances-without-data-plane",
        ),
        pytest.param(
            node("map-server") + site("a") + "[itr]\nuse-petrs = true\n",
            "n1.toml: itr: only used by role itr, which node.roles does not include",
            id="unused-table-reported-before-its-values",
        ),
        pytest.param(
            node("itr") + RESOLVER + "[itr]\nuse-petrs = true\n",
            "n1.toml: itr.use-petrs: true, but there are no [[petrs]]",
            id="use-petrs-without-petrs",
        ),
        pytest.param(
            node("itr") + PETR + "[itr]\nsend-map-request-on-miss = true\n",
            "n1.toml: itr.send-map-request-on-miss: true, but there are no [[map-resolvers]]",
            id="map-request-without-resolvers",
        ),
        pytest.param(
            node("itr") + RESOLVER + RESOLVER,
            "n1.toml: map-resolvers[1].address: duplicate address 192.0.2.254"
            " (also map-resolvers[0])",
            id="duplicate-map-resolver",
        ),
    ],
)
def test_cross_table_errors(text: str, message: str) -> None:
    assert error_of(text) == message


def test_itr_with_only_petrs_uses_them_and_sends_no_map_requests() -> None:
    config = parse_config(node("itr") + PETR, "n1.toml")
    assert config.has_role(NodeRole.ITR)
    assert config.itr.use_petrs
    assert not config.itr.send_map_request_on_miss


def test_itr_with_resolvers_and_petrs_can_turn_petrs_off() -> None:
    config = parse_config(node("itr") + RESOLVER + PETR + "[itr]\nuse-petrs = false\n", "n1")
    assert not config.itr.use_petrs
    assert config.itr.send_map_request_on_miss
    assert config.itr.map_cache_limit == 100_000


def test_subscribe_needs_an_etr_registering_with_a_map_server() -> None:
    message = error_of(node("itr") + MAPPING + RESOLVER + "[itr]\nsubscribe = true\n")
    assert message.startswith("n1.toml: itr.subscribe: true, but a subscriber needs role etr")
    server = '[[map-servers]]\naddress = "192.0.2.254"\nauth-key = "k"\n'
    config = parse_config(
        node("itr", "etr") + MAPPING + RESOLVER + server + "[itr]\nsubscribe = true\n", "n1.toml"
    )
    assert config.itr.subscribe


def test_echo_nonce_needs_the_data_packets_in_python() -> None:
    """Echo-nonce reads every data packet's nonce: the eBPF engine, which carries them in
    the kernel, is refused; "auto" picks the TUN engine then (io/ebpf_engine.open_engine)."""
    itr = node("itr") + MAPPING + RESOLVER + "[itr]\necho-nonce = true\n"
    message = error_of(itr + '[data-plane]\nengine = "ebpf"\n')
    assert message.startswith("n1.toml: itr.echo-nonce: true, but echo-nonce reads the nonce")
    auto = parse_config(itr, "n1.toml")
    assert open_engine(auto, {0: 1}, ()) is None  # before any kernel call: no root needed
