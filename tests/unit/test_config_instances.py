"""`[[instances]]`: one routing domain per non-zero instance-id, refused when it cannot work."""

from __future__ import annotations

import pytest

from lispstack.config import ConfigError, parse_config
from lispstack.config.reload_changes import fixed_change
from lispstack.config.render import render_config

XTR = """
[node]
name = "x1"
roles = ["itr", "etr"]

[[database-mappings]]
eid-prefix = "[100]10.1.0.0/24"
rlocs = [{ address = "192.0.2.1" }]

[[database-mappings]]
eid-prefix = "[200]10.1.0.0/24"
rlocs = [{ address = "192.0.2.1" }]

[[map-servers]]
address = "192.0.2.254"
auth-key = "k"

[[map-resolvers]]
address = "192.0.2.254"
"""
T100 = '[[instances]]\niid = 100\ninterfaces = ["eth1"]\ntable = 100\n'
T200 = '[[instances]]\niid = 200\ninterfaces = ["eth2"]\ntable = 200\n'


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "x1.toml")
    return str(info.value)


def test_two_tenants_with_the_same_prefix_each_get_a_domain_and_a_tun() -> None:
    config = parse_config(XTR + T100 + T200, "x1.toml")
    assert [(i.iid, i.interfaces, i.table) for i in config.instances] == [
        (100, ("eth1",), 100),
        (200, ("eth2",), 200),
    ]
    assert [i.device for i in config.instances] == ["lisp-x1.100", "lisp-x1.200"]
    assert parse_config(render_config(config), "again") == config


def test_a_long_tun_name_is_cut_to_leave_room_for_the_iid() -> None:
    text = XTR + T100 + T200 + '[tun]\ndevice = "lisp-fifteen-ch"\n'
    assert parse_config(text, "x1.toml").instances[0].device == "lisp-fiftee.100"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            XTR + T100,
            "x1.toml: database-mappings[1].eid-prefix: instance-id 200 has no routing domain"
            " (add [[instances]] with iid = 200, its interfaces and a table)",
            id="iid-without-domain",
        ),
        pytest.param(
            XTR + T100 + T200.replace("eth2", "eth1"),
            "x1.toml: instances[1].interfaces[0]:"
            " interface eth1 already belongs to instance-id 100",
            id="interface-in-two-instances",
        ),
        pytest.param(
            XTR + T100 + T200.replace("table = 200", "table = 100"),
            "x1.toml: instances[1].table: duplicate table 100 (also instances[0])",
            id="table-in-two-instances",
        ),
        pytest.param(
            XTR + T100 + T200 + T100.replace("eth1", "eth3").replace("table = 100", "table = 3"),
            "x1.toml: instances[2].iid: duplicate instance-id 100 (also instances[0])",
            id="iid-twice",
        ),
        pytest.param(
            XTR + T100 + T200.replace("table = 200", "table = 254"),
            "x1.toml: instances[1].table: table 254 is reserved (main)",
            id="main-table",
        ),
        pytest.param(
            XTR + T100 + T200.replace("iid = 200", "iid = 0"),
            "x1.toml: instances[1].iid: 0 out of range 1-16777215",
            id="iid-0",
        ),
    ],
)
def test_a_config_that_cannot_work_is_refused_in_one_line(text: str, message: str) -> None:
    error = error_of(text)
    assert error == message
    assert "\n" not in error


def test_a_reload_cannot_change_the_instances_routing_domains() -> None:
    running = parse_config(XTR + T100 + T200, "x1.toml")
    moved = parse_config(XTR + T100 + T200.replace("table = 200", "table = 201"), "x1.toml")
    assert fixed_change(running, running) is None
    assert fixed_change(running, moved) == (
        "instances cannot change while the node runs (restart it to change instances)"
    )
