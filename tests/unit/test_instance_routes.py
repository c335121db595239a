"""Which route notifications change an instance's copy of the main table's routes."""

from __future__ import annotations

import pytest
from pyroute2.netlink.rtnl import RTM_DELROUTE, RTM_NEWROUTE
from pyroute2.netlink.rtnl.marshal import MarshalRtnl
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from lispstack.io.instance_routes import mirrored
from lispstack.io.netlink import COPY_PROTO

T100 = 7  # the interface index of tenant 100's EID-facing interface


def notification(kind: int, table: int = 254, oif: int = T100, route_type: int = 1) -> bytes:
    """A route notification as the kernel sends it (10.9.0.0/24 dev OIF)."""
    message = rtmsg()
    message["header"]["type"] = kind
    message["header"]["flags"] = 0
    message["family"], message["dst_len"], message["scope"] = 2, 24, 253
    message["table"], message["type"], message["proto"] = table, route_type, 3
    message["attrs"] = [("RTA_TABLE", table), ("RTA_DST", "10.9.0.0"), ("RTA_OIF", oif)]
    message.encode()
    data: bytes = message.data
    return data


def parsed(data: bytes) -> object:
    (message,) = MarshalRtnl().parse(data)
    return mirrored(message, {T100: 100})


@pytest.mark.parametrize(("kind", "command"), [(RTM_NEWROUTE, "replace"), (RTM_DELROUTE, "del")])
def test_a_main_table_route_out_of_an_instance_interface_is_mirrored(
    kind: int, command: str
) -> None:
    copy = {
        "family": 2,
        "dst_len": 24,
        "scope": 253,
        "table": 100,
        "proto": COPY_PROTO,
        "oif": T100,
        "dst": "10.9.0.0",
    }
    assert parsed(notification(kind)) == (command, copy)


@pytest.mark.parametrize(
    "data",
    [
        notification(RTM_NEWROUTE, table=100),  # our own copy: no echo
        notification(RTM_NEWROUTE, oif=8),  # another interface
        notification(RTM_NEWROUTE, route_type=9),  # a throw route
    ],
)
def test_other_routes_are_left_alone(data: bytes) -> None:
    assert parsed(data) is None
