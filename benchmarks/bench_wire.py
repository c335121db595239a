"""Wire codec speed: decode and encode time per message (not a test; prints a table).

.venv/bin/python benchmarks/bench_wire.py

Best of 5 timeit runs of 20,000 calls each, in µs per call. Goals: decode an
ECM Map-Request and encode a Map-Reply in under 4 µs each. The general codecs
build validated, immutable objects (ipaddress addresses, nested dataclasses);
the Map-Resolver's specialised parse of the common ECM Map-Request
(core/resolver_fast_path.py) is timed beside them.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from ipaddress import IPv4Address

from lispstack.core.resolver_fast_path import parse_common_request
from lispstack.wire import (
    Ecm,
    EidRecord,
    HmacKey,
    Locator,
    MappingRecord,
    MapRegister,
    MapReply,
    MapRequest,
    decode_control,
    verify_raw,
)

KEY = HmacKey(b"site-a-secret")  # as the site table and the ETR hold their keys
REQUEST = MapRequest(
    nonce=0x0123456789ABCDEF,
    itr_rlocs=(IPv4Address("10.0.1.1"),),
    records=(EidRecord(eid=IPv4Address("192.168.2.1"), eid_mask_len=32),),
    source_eid=IPv4Address("192.168.1.1"),
)
ECM = Ecm(
    source=IPv4Address("10.0.1.1"),
    destination=IPv4Address("192.168.2.1"),
    source_port=4342,
    message=REQUEST,
)
RECORD = MappingRecord(
    eid=IPv4Address("192.168.2.0"),
    eid_mask_len=24,
    authoritative=True,
    locators=(
        Locator(address=IPv4Address("10.0.2.2"), priority=1, weight=50),
        Locator(address=IPv4Address("10.0.3.2"), priority=1, weight=50),
    ),
)
REPLY = MapReply(nonce=0x1122334455667788, records=(RECORD,))
REGISTER = MapRegister(nonce=7, records=(RECORD,), want_map_notify=True)


def _per_op_us(function: Callable[[], object], number: int = 20_000) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def main() -> None:
    ecm_bytes = ECM.encode()
    reply_bytes = REPLY.encode()
    register_bytes = REGISTER.signed(KEY)[1]

    def decode_register() -> None:
        decode_control(register_bytes)
        verify_raw(register_bytes, KEY)

    assert parse_common_request(ecm_bytes) is not None  # the fast path takes it
    rows: list[tuple[str, Callable[[], object], Callable[[], object] | None, str]] = [
        ("ECM Map-Request (IPv4 inner)", lambda: decode_control(ecm_bytes), ECM.encode, "dec < 4"),
        (
            "  same, Map-Resolver fast-path parse",
            lambda: parse_common_request(ecm_bytes),
            None,
            "",
        ),
        ("Map-Reply, 2 RLOCs", lambda: decode_control(reply_bytes), REPLY.encode, "enc < 4"),
        (
            "Map-Register HMAC-SHA-256 (+verify / +sign)",
            decode_register,
            lambda: REGISTER.signed(KEY),
            "",
        ),
    ]
    print(f"{'message':45} {'decode µs':>10} {'encode µs':>10}  goal")
    for name, decode, encode, goal in rows:
        encoded = f"{_per_op_us(encode):10.2f}" if encode is not None else f"{'-':>10}"
        print(f"{name:45} {_per_op_us(decode):10.2f} {encoded}  {goal}")


if __name__ == "__main__":
    main()
