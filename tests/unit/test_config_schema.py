"""The key tree of `config.schema` and the readers of `config.sections` agree, key for key."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping

from lispstack.config import parse_config
from lispstack.config.role_checks import USED_BY
from lispstack.config.schema import NODE_FILE, Section

EVERY_KEY = """
[node]
name = "all"
roles = ["itr", "etr", "map-server", "map-resolver", "pitr", "petr", "ddt-node", "rtr"]
control-socket = "/tmp/all.sock"
listen = ["10.0.1.1"]
log-level = "debug"
log-format = "json"
workers = 1
metrics = "127.0.0.1:9100"

[[database-mappings]]
eid-prefix = "192.168.1.0/24"
rlocs = [{ address = "10.0.1.1", priority = 1, weight = 100, m-priority = 255, m-weight = 0 }]
map-version = 7
dynamic = true
dynamic-timeout = 60
dynamic-limit = 10

[[map-servers]]
address = "10.0.1.254"
auth-key = "k"
key-id = 0
algorithm = "hmac-sha-1"
proxy-reply = true
want-map-notify = false
register-ttl = 3
register-interval = 60

[[map-resolvers]]
address = "10.0.1.254"

[[petrs]]
address = "10.0.9.9"
priority = 1
weight = 100

[[sites]]
name = "a"
auth-key = "k"
eid-prefixes = ["192.168.1.0/24"]
accept-more-specifics = true
rtrs = ["10.0.7.7"]

[[sites]]
name = "b"
auth-keys = [{ id = 1, key = "k1", algorithm = "hmac-sha-256" }]
eid-prefixes = ["192.168.2.0/24"]
allow-overlap = true
previous-key-grace = 600

[map-server]
replay-window = 3600

[itr]
map-cache-limit = 10
use-petrs = true
send-map-request-on-miss = true
rloc-probe-interval = 10
rloc-probe-misses = 2
rloc-probe-rate = 50
echo-nonce = true
subscribe = true
rloc-path-mtu = 1400

[etr]
nat-traversal = "off"

[pitr]
eid-prefixes = ["192.168.0.0/16"]

[tun]
device = "lisp-all"
mtu = 1400

[data-plane]
engine = "tun"

[petr]
check-source = false

[[instances]]
iid = 100
interfaces = ["eth-t100"]
table = 100
device = "lisp-all.100"

[[ddt-roots]]
address = "10.0.9.1"

[[ddt-prefixes]]
eid-prefix = "10.0.0.0/8"

[[delegations]]
eid-prefix = "10.1.0.0/16"
kind = "map-server"
ttl = 60
children = [{ address = "10.0.1.254", priority = 1, weight = 50 }]
"""


def _paths(section: Section, prefix: str = "") -> Iterator[str]:
    for key, sub in section.keys.items():
        yield prefix + key
        if sub is not None:
            yield from _paths(sub, prefix + key + ".")


def _used(data: Mapping[str, object], prefix: str = "") -> Iterator[str]:
    for key, value in data.items():
        yield prefix + key
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                yield from _used(item, prefix + key + ".")


def test_the_sample_sets_every_declared_key() -> None:
    assert set(_paths(NODE_FILE)) == set(_used(tomllib.loads(EVERY_KEY)))


def test_the_readers_read_every_declared_key() -> None:
    # Table refuses an undeclared key and done() a key left unread: parsing is the check.
    config = parse_config(EVERY_KEY, "all.toml")
    assert config.sites[1].keys[0].key_id == 1 and config.petrs[0].weight == 100
    assert config.instances[0].device == "lisp-all.100"
    assert config.delegations[0].children[0].weight == 50


def test_every_top_level_table_but_node_belongs_to_a_role() -> None:
    assert set(NODE_FILE.keys) == {"node", *USED_BY}
