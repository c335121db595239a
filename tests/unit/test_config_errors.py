"""Each kind of config error: one ConfigError naming the file, the key path and the problem."""

from __future__ import annotations

import pytest

from lispstack.config import ConfigError, parse_config

XTR = """
[node]
name = "lisp1"
roles = ["itr", "etr"]

[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{ address = "10.0.1.1" }]

[[map-servers]]
address = "10.0.1.254"
auth-key = "site-a-secret"

[[map-resolvers]]
address = "10.0.1.254"
"""

MS = """
[node]
name = "mapserver"
roles = ["map-server"]

[[sites]]
name = "site-a"
auth-key = "k"
eid-prefixes = ["192.168.1.0/24"]
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "lisp1.toml")
    assert info.value.source == "lisp1.toml"
    return str(info.value)


def test_the_bases_are_valid() -> None:
    assert parse_config(XTR, "lisp1.toml").name == "lisp1"
    assert parse_config(MS, "ms.toml").sites[0].name == "site-a"


def test_an_unknown_key_error_carries_its_path() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(XTR.replace('name = "lisp1"', 'nmae = "lisp1"'), "lisp1.toml")
    assert info.value.key == "node.nmae"
    assert info.value.reason == "unknown key 'nmae' in [node] (did you mean 'name'?)"


def test_error_carries_key_and_reason() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(XTR.replace('"10.0.1.1"', '"10.0.1.300"'), "lisp1.toml")
    assert info.value.key == "database-mappings[0].rlocs[0].address"
    assert info.value.reason == "bad IP address '10.0.1.300'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            XTR + 'algorithm = "md5"\n',
            "lisp1.toml: unknown key 'algorithm' in map-resolvers[0] (expected address)",
            id="unknown-key-in-last-table",
        ),
        pytest.param(
            XTR.replace('auth-key = "site-a-secret"', 'auth-key = "s"\nalgorithm = "md5"'),
            "lisp1.toml: map-servers[0].algorithm: unknown algorithm 'md5'"
            " (expected hmac-sha-1 or hmac-sha-256)",
            id="unknown-algorithm",
        ),
        pytest.param(
            XTR.replace('auth-key = "site-a-secret"\n', ""),
            "lisp1.toml: map-servers[0].auth-key: missing required key",
            id="missing-key",
        ),
        pytest.param(
            XTR.replace("auth-key =", "auth_key ="),
            "lisp1.toml: unknown key 'auth_key' in map-servers[0] (did you mean 'auth-key'?)",
            id="misspelt-required-key-is-unknown-not-missing",
        ),
        pytest.param(
            XTR.replace("auth-key =", "authkey ="),
            "lisp1.toml: unknown key 'authkey' in map-servers[0] (did you mean 'auth-key'?)",
            id="authkey",
        ),
        pytest.param(
            XTR.replace('name = "lisp1"', 'nmae = "lisp1"'),
            "lisp1.toml: unknown key 'nmae' in [node] (did you mean 'name'?)",
            id="nmae",
        ),
        pytest.param(
            XTR.replace("[node]", "[nod]"),
            "lisp1.toml: unknown table [nod] (did you mean [node]?)",
            id="nod",
        ),
        pytest.param(
            XTR.replace("[[map-servers]]", "[[map-server]]"),
            "lisp1.toml: [[map-server]]: map-server is written [map-server]"
            " (or did you mean [[map-servers]]?)",
            id="array-of-tables-typo",
        ),
        pytest.param(
            XTR.replace('name = "lisp1"\n', "") + "weight = 100\n",
            "lisp1.toml: unknown key 'weight' in map-resolvers[0] (expected address)",
            id="unknown-in-a-later-table-before-missing-in-an-earlier-one",
        ),
        pytest.param(
            XTR.replace("[node]\n", ""),
            "lisp1.toml: unknown key 'name' at the top level (expected the tables [node],"
            " [[database-mappings]], [[map-servers]], [[map-resolvers]], [[petrs]], [[sites]],"
            " [map-server], [itr], [etr], [pitr], [tun], [data-plane], [petr], [[instances]],"
            " [[ddt-roots]], [[ddt-prefixes]], [[delegations]])",
            id="node-keys-outside-node",
        ),
        pytest.param(
            XTR.replace('auth-key = "site-a-secret"', 'auth-key = "s"\nwant-map-notfy = true'),
            "lisp1.toml: unknown key 'want-map-notfy' in map-servers[0]"
            " (did you mean 'want-map-notify'?)",
            id="typo-suggests-key",
        ),
        pytest.param(
            XTR + "[bogus]\nx = 1\n",
            "lisp1.toml: unknown table [bogus] (expected [node], [[database-mappings]],"
            " [[map-servers]], [[map-resolvers]], [[petrs]], [[sites]], [map-server], [itr],"
            " [etr], [pitr], [tun], [data-plane], [petr], [[instances]], [[ddt-roots]],"
            " [[ddt-prefixes]], [[delegations]])",
            id="unknown-table",
        ),
        pytest.param(
            XTR + "[itrr]\nuse-petrs = false\n",
            "lisp1.toml: unknown table [itrr] (did you mean [itr]?)",
            id="misspelt-table",
        ),
        pytest.param(
            XTR.replace('name = "lisp1"', "name = 1"),
            "lisp1.toml: node.name: expected a string, got integer",
            id="wrong-type-string",
        ),
        pytest.param(
            XTR.replace('address = "10.0.1.1" }', 'address = "10.0.1.1", priority = true }'),
            "lisp1.toml: database-mappings[0].rlocs[0].priority:"
            " expected an integer 0-255, got boolean",
            id="wrong-type-bool-for-int",
        ),
        pytest.param(
            XTR.replace('roles = ["itr", "etr"]', 'roles = "itr"'),
            "lisp1.toml: node.roles: expected an array, got string",
            id="wrong-type-array",
        ),
        pytest.param(
            XTR.replace("[node]", "[[node]]"),
            "lisp1.toml: [[node]]: node is written [node]",
            id="wrong-type-table",
        ),
        pytest.param(
            XTR.replace('address = "10.0.1.1" }', 'address = "10.0.1.1", priority = 256 }'),
            "lisp1.toml: database-mappings[0].rlocs[0].priority: 256 out of range 0-255",
            id="priority-out-of-range",
        ),
        pytest.param(
            XTR.replace('address = "10.0.1.1" }', 'address = "10.0.1.1", weight = -1 }'),
            "lisp1.toml: database-mappings[0].rlocs[0].weight: -1 out of range 0-255",
            id="weight-out-of-range",
        ),
        pytest.param(
            XTR.replace('address = "10.0.1.254"\nauth', 'address = "10.0.1.254/32"\nauth'),
            "lisp1.toml: map-servers[0].address: bad IP address '10.0.1.254/32'",
            id="bad-address",
        ),
        pytest.param(
            XTR.replace('"10.0.1.1"', '"0.0.0.0"'),
            "lisp1.toml: database-mappings[0].rlocs[0].address: '0.0.0.0' cannot be an RLOC",
            id="unspecified-rloc",
        ),
        pytest.param(
            XTR.replace('"192.168.1.0/24"', '"192.168.1.1/24"'),
            "lisp1.toml: database-mappings[0].eid-prefix: '192.168.1.1/24' has host bits set"
            " (did you mean '192.168.1.0/24'?)",
            id="host-bits-set",
        ),
        pytest.param(
            XTR.replace('"192.168.1.0/24"', '"[7]10.1.2.3/16"'),
            "lisp1.toml: database-mappings[0].eid-prefix: '[7]10.1.2.3/16' has host bits set"
            " (did you mean '[7]10.1.0.0/16'?)",
            id="host-bits-set-with-iid",
        ),
        pytest.param(
            XTR.replace('"192.168.1.0/24"', '"192.168.1.0"'),
            "lisp1.toml: database-mappings[0].eid-prefix: bad EID prefix '192.168.1.0'"
            " (expected e.g. '192.168.1.0/24', '2001:db8::/32' or '[100]10.1.0.0/16')",
            id="prefix-without-length",
        ),
        pytest.param(
            XTR.replace('"192.168.1.0/24"', '"192.168.1.0/33"'),
            "lisp1.toml: database-mappings[0].eid-prefix:"
            " prefix length 33 in '192.168.1.0/33' longer than 32 bits",
            id="prefix-too-long",
        ),
        pytest.param(
            XTR.replace('"192.168.1.0/24"', '"[16777216]10.0.0.0/8"'),
            "lisp1.toml: database-mappings[0].eid-prefix:"
            " instance-id 16777216 in '[16777216]10.0.0.0/8' out of range 0-16777215",
            id="iid-out-of-range",
        ),
        pytest.param(
            XTR.replace('"10.0.1.1" }', '"10.0.1.1" }, { address = "10.0.1.1" }'),
            "lisp1.toml: database-mappings[0].rlocs[1].address:"
            " duplicate RLOC address 10.0.1.1 (also rlocs[0])",
            id="duplicate-rloc",
        ),
        pytest.param(
            XTR.replace('rlocs = [{ address = "10.0.1.1" }]', "rlocs = []"),
            "lisp1.toml: database-mappings[0].rlocs: must not be empty",
            id="empty-rlocs",
        ),
        pytest.param(
            XTR.replace('roles = ["itr", "etr"]', 'roles = ["itr", "etr", "itr"]'),
            "lisp1.toml: node.roles[2]: duplicate role itr (also roles[0])",
            id="duplicate-role",
        ),
        pytest.param(
            XTR.replace('roles = ["itr", "etr"]', 'roles = ["itr", "xtr"]'),
            "lisp1.toml: node.roles[1]: unknown role 'xtr'"
            " (expected itr, etr, map-server, map-resolver, pitr, petr, ddt-node or rtr)",
            id="unknown-role",
        ),
        pytest.param(
            XTR.replace('roles = ["itr", "etr"]', "roles = []"),
            "lisp1.toml: node.roles: must not be empty",
            id="empty-roles",
        ),
        pytest.param(
            XTR.replace('name = "lisp1"', 'name = "Lisp 1"'),
            "lisp1.toml: node.name: bad node name 'Lisp 1' (expected 1-63 of a-z 0-9 _ -)",
            id="bad-node-name",
        ),
        pytest.param(
            XTR.replace("[node]", "[nodes]"),
            "lisp1.toml: unknown table [nodes] (did you mean [node]?)",
            id="misspelt-node",
        ),
        pytest.param(
            XTR.split("[[database-mappings]]")[1].join(["[[database-mappings]]", ""]),
            "lisp1.toml: node: missing required table [node]",
            id="missing-node",
        ),
        pytest.param(
            XTR.replace(
                'address = "10.0.1.254"\nauth-key = "site-a-secret"',
                'address = "10.0.1.254"\nauth-key = ""',
            ),
            "lisp1.toml: map-servers[0].auth-key: must not be empty",
            id="empty-auth-key",
        ),
        pytest.param(
            XTR.replace('auth-key = "site-a-secret"', 'auth-key = "s"\nkey-id = 256'),
            "lisp1.toml: map-servers[0].key-id: 256 out of range 0-255",
            id="key-id-out-of-range",
        ),
        pytest.param(
            XTR + "[node.extra]\nx = 1\n",
            "lisp1.toml: unknown key 'extra' in [node] (expected name, roles, control-socket,"
            " listen, log-level, log-format, workers, metrics)",
            id="unknown-key-in-node",
        ),
        pytest.param(
            MS.replace('roles = ["map-server"]', 'roles = ["map-server"]\nworkers = 0'),
            "lisp1.toml: node.workers: 0 out of range 1-64",
            id="no-workers",
        ),
        pytest.param(
            XTR.replace('roles = ["itr", "etr"]', 'roles = ["itr", "etr"]\nworkers = 2'),
            "lisp1.toml: node.workers: more than one worker is only for roles map-server and"
            " map-resolver, not itr, etr (a TUN device and its routes belong to one process)",
            id="workers-with-xtr-roles",
        ),
        pytest.param(
            XTR.replace('"10.0.1.1" }]', '"10.0.1.1" }]\ndynamic-timeout = 30'),
            "lisp1.toml: database-mappings[0].dynamic-timeout: only for a dynamic prefix"
            " (dynamic = true)",
            id="dynamic-timeout-without-dynamic",
        ),
        pytest.param(
            XTR.replace('"10.0.1.1" }]', '"10.0.1.1" }]\ndynamic = true\ndynamic-limit = 0'),
            "lisp1.toml: database-mappings[0].dynamic-limit: 0 out of range 1-100000",
            id="dynamic-limit-out-of-range",
        ),
        pytest.param(
            XTR + "[tun]\nmtu = 100\n",
            "lisp1.toml: tun.mtu: 100 out of range 576-65535",
            id="mtu-out-of-range",
        ),
        pytest.param(
            XTR + '[tun]\ndevice = "a-much-too-long-name"\n',
            "lisp1.toml: tun.device: bad device name 'a-much-too-long-name'"
            " (expected 1-15 characters, no / or spaces)",
            id="tun-device-too-long",
        ),
        pytest.param(
            XTR.replace('roles = ["itr", "etr"]', 'roles = ["itr", "etr"]\nlog-level = "loud"'),
            "lisp1.toml: node.log-level: unknown log level 'loud'"
            " (expected debug, info, warning or error)",
            id="bad-log-level",
        ),
        pytest.param(
            XTR.replace('roles = ["itr", "etr"]', 'roles = ["itr", "etr"]\nlog-format = "xml"'),
            "lisp1.toml: node.log-format: unknown log format 'xml' (expected text or json)",
            id="bad-log-format",
        ),
        *(
            pytest.param(
                MS.replace('roles = ["map-server"]', f'roles = ["map-server"]\nmetrics = "{text}"'),
                f"lisp1.toml: node.metrics: {reason}",
                id=f"bad-metrics-{text}",
            )
            for text, reason in [
                ("9100", "bad address '9100' (expected ADDRESS:PORT or [IPv6]:PORT)"),
                ("::1:9100", "bad address '::1:9100' (expected ADDRESS:PORT or [IPv6]:PORT)"),
                (
                    "127.0.0.1:http",
                    "bad address '127.0.0.1:http' (expected ADDRESS:PORT or [IPv6]:PORT)",
                ),
                ("127.0.0.1:70000", "port 70000 out of range 1-65535"),
                ("localhost:9100", "bad IP address 'localhost'"),
            ]
        ),
    ],
)
def test_value_errors(text: str, message: str) -> None:
    assert error_of(text) == message


def test_invalid_toml_gives_line_and_column() -> None:
    message = error_of(XTR.replace('name = "lisp1"', "name = lisp1"))
    assert message.startswith("lisp1.toml: invalid TOML: ")
    assert "(at line 3, column 8)" in message


def test_duplicate_toml_key_is_invalid_toml() -> None:
    message = error_of(XTR.replace('name = "lisp1"', 'name = "a"\nname = "b"'))
    assert message.startswith("lisp1.toml: invalid TOML: ")
    assert "line 4" in message
