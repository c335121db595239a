"""The ITR's Map-Request rate limit remembers one second of destinations, timer or not."""

from __future__ import annotations

import random
from ipaddress import IPv4Address

from lispstack.core.resolver_client import MIN_REQUEST_INTERVAL, ResolverClient


def test_a_scan_answered_at_once_is_not_remembered_without_a_timer() -> None:
    client = ResolverClient([IPv4Address("10.0.1.254")], random.Random(1))
    rate = 1000  # new destinations a second
    for index in range(20_000):
        destination = IPv4Address(0x64400001 + index)
        outcome = client.on_miss((0, destination), None, b"packet", index / rate)
        assert outcome.request is not None
        pending = client.awaiting(outcome.request.pending.nonce)
        assert pending is not None
        client.complete(pending)
    remembered = len(client._last_request)
    assert remembered <= MIN_REQUEST_INTERVAL * rate + 1
    # The rate limit still holds within the interval.
    last = IPv4Address(0x64400001 + 19_999)
    assert client.on_miss((0, last), None, b"packet", 20.0).drop_reason == (
        "map-request-rate-limited"
    )
