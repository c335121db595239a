"""Map-versioning (RFC 9302): arithmetic, configuration, versions in records and data
packets, SMR for a stale destination version, Map-Request for a newer source version."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from helpers.xtr_fixtures import LISP1, build_xtr, datagram, icmp
from lispstack.config import ConfigError, parse_config
from lispstack.config.model import NodeConfig
from lispstack.config.render import render_config
from lispstack.core.counters import Counters
from lispstack.core.etr import Etr
from lispstack.core.events import Action, SendDatagram, WriteToTun
from lispstack.core.itr import Itr
from lispstack.core.map_versioning import SmrLimiter, announces_newer, newer
from lispstack.core.replies import proxy_record
from lispstack.mapping.prefix import EidPrefix
from lispstack.mapping.registrations import Registration
from lispstack.wire.control import decode_control
from lispstack.wire.data_header import DataHeader, decapsulate, versioned_header
from lispstack.wire.ecm import Ecm
from lispstack.wire.map_register import MapRegister
from lispstack.wire.map_reply import MapReply
from lispstack.wire.map_request import MapRequest
from lispstack.wire.records import EidRecord, Locator, MappingRecord

RLOCS_LINE = 'rlocs = [{ address = "10.0.1.1", priority = 1, weight = 100 }]'


def versioned(version: str | None = "5") -> NodeConfig:
    text = LISP1.replace("ALGO", "hmac-sha-256").replace("PROXY", "false")
    if version is not None:
        text = text.replace(RLOCS_LINE, f"{RLOCS_LINE}\nmap-version = {version}")
    return parse_config(text, "lisp1.toml")


def sent(actions: list[Action]) -> list[SendDatagram]:
    return [a for a in actions if isinstance(a, SendDatagram)]


def peer_mapping(version: int) -> MappingRecord:
    return MappingRecord(
        eid=ip_address("192.168.2.0"),
        eid_mask_len=24,
        ttl=1440,
        map_version=version,
        locators=(Locator(address=ip_address("10.0.2.2")),),
    )


@pytest.mark.parametrize(
    ("candidate", "current", "expected"),
    [
        (2, 1, True),
        (1, 2, False),
        (7, 7, False),
        (2049, 1, True),  # a difference of exactly 2**11 is newer
        (2050, 1, False),
        (1, 2050, True),
        (1, 4095, True),  # after 4095 comes 1
        (4095, 1, False),
        (0, 5, False),  # the null version is never newer nor older
        (5, 0, False),
    ],
)
def test_newer_is_rfc_9302_arithmetic(candidate: int, current: int, expected: bool) -> None:
    assert newer(candidate, current) is expected


def test_a_version_announced_for_an_unversioned_cached_mapping_is_news() -> None:
    assert announces_newer(1, 0) and not announces_newer(0, 3) and not announces_newer(3, 3)


def test_config_map_version_range_and_round_trip() -> None:
    config = versioned("4095")
    assert config.database_mappings[0].map_version == 4095
    assert versioned(None).database_mappings[0].map_version == 0
    assert parse_config(render_config(config), "again.toml") == config
    for bad in ("0", "4096", '"5"'):
        with pytest.raises(ConfigError, match="map-version"):
            versioned(bad)


def test_etr_puts_its_version_in_map_register_and_map_reply_records() -> None:
    etr, _, _ = build_xtr(versioned("5"))
    register = decode_control(sent(etr.on_timer(0.0))[0].payload)
    assert isinstance(register, MapRegister) and register.records[0].map_version == 5
    request = MapRequest(
        nonce=9,
        itr_rlocs=(ip_address("10.0.2.2"),),
        records=(EidRecord(eid=ip_address("192.168.1.1"), eid_mask_len=32),),
    )
    answer = etr.handle_control(
        request, datagram(request.encode(), "10.0.2.2", 4342, "10.0.1.1", 4342), 1.0
    )
    reply = decode_control(sent(answer)[0].payload)
    assert isinstance(reply, MapReply) and reply.records[0].map_version == 5


def test_proxy_record_keeps_the_version_every_etr_registered() -> None:
    prefix = EidPrefix.parse("192.168.2.0/24")

    def registration(etr: str, version: int) -> Registration:
        return Registration(
            site="b",
            prefix=prefix,
            etr=etr,
            record=peer_mapping(version),
            registered_by=etr,
            proxy_reply=True,
            xtr_id=None,
            nonce=1,
            first_registered=0.0,
            last_registered=0.0,
            expires_at=100.0,
        )

    assert proxy_record(prefix, [registration("a", 3), registration("b", 3)], 10).map_version == 3
    assert proxy_record(prefix, [registration("a", 3), registration("b", 4)], 10).map_version == 0


def test_versioned_header_is_the_checked_codecs_and_decapsulates() -> None:
    for iid in (0, 200):
        header = versioned_header(5, 4095, 1, iid)
        checked = DataHeader(
            map_version_present=True,
            lsb_present=True,
            instance_id_present=bool(iid),
            source_map_version=5,
            dest_map_version=4095,
            instance_id=iid,
            lsb=1,
        )
        assert header == checked.encode()
        packet = decapsulate(header + icmp("192.168.1.1", "192.168.2.1"))
        assert packet.map_versions == (5, 4095) and packet.nonce is None and packet.iid == iid
    assert decapsulate(b"\xc0\0\0\x01\0\0\0\x01" + icmp("1.1.1.1", "2.2.2.2")).map_versions is None


def _itr_with_peer_cached(config: NodeConfig, peer_version: int) -> tuple[Etr, Itr, Counters]:
    etr, itr, counters = build_xtr(config)
    request = sent(itr.handle_tun(icmp("192.168.1.1", "192.168.2.1"), 0.0))[0]
    ecm = decode_control(request.payload)
    assert isinstance(ecm, Ecm) and isinstance(ecm.message, MapRequest)
    reply = MapReply(nonce=ecm.message.nonce, records=(peer_mapping(peer_version),))
    etr.handle_control(reply, datagram(reply.encode(), "10.0.2.2", 4342, "10.0.1.1", 4342), 0.1)
    itr.handle_control(reply, datagram(reply.encode(), "10.0.2.2", 4342, "10.0.1.1", 4342), 0.1)
    return etr, itr, counters


def test_itr_sends_both_versions_with_the_v_bit_and_no_nonce() -> None:
    _, itr, _ = _itr_with_peer_cached(versioned("5"), 9)
    (out,) = sent(itr.handle_tun(icmp("192.168.1.1", "192.168.2.1"), 1.0))
    packet = decapsulate(out.payload)
    assert packet.map_versions == (5, 9) and packet.nonce is None
    _, plain, _ = _itr_with_peer_cached(versioned(None), 0)
    (out,) = sent(plain.handle_tun(icmp("192.168.1.1", "192.168.2.1"), 1.0))
    assert decapsulate(out.payload).map_versions is None  # nobody has a version: the nonce


def _from_peer(source_version: int, dest_version: int) -> bytes:
    inner = icmp("192.168.2.1", "192.168.1.1")
    return versioned_header(source_version, dest_version, 1) + inner


def test_stale_destination_version_gets_the_itr_an_smr_rate_limited() -> None:
    etr, _, counters = build_xtr(versioned("5"))
    stale = datagram(_from_peer(0, 4), "10.0.2.2", 61000, "10.0.1.1", 4341)
    first = etr.handle_data(stale, 1.0)
    assert any(isinstance(a, WriteToTun) for a in first)  # delivered all the same
    (smr,) = sent(first)
    message = decode_control(smr.payload)
    assert isinstance(message, MapRequest) and message.smr
    assert str(smr.destination) == "10.0.2.2:4342" and str(message.source_eid) == "192.168.1.0"
    assert sent(etr.handle_data(stale, 1.5)) == []  # one a second per ITR and prefix
    assert len(sent(etr.handle_data(stale, 2.1))) == 1
    assert counters.get("map-version.stale-destination") == 3
    current = datagram(_from_peer(0, 5), "10.0.2.2", 61000, "10.0.1.1", 4341)
    assert sent(etr.handle_data(current, 9.0)) == []


def test_newer_source_version_makes_the_itr_ask_again_once() -> None:
    etr, _, counters = _itr_with_peer_cached(versioned("5"), 3)
    same = datagram(_from_peer(3, 5), "10.0.2.2", 61000, "10.0.1.1", 4341)
    assert sent(etr.handle_data(same, 1.0)) == []
    newer_one = datagram(_from_peer(4, 5), "10.0.2.2", 61000, "10.0.1.1", 4341)
    (request,) = sent(etr.handle_data(newer_one, 2.0))
    ecm = decode_control(request.payload)
    assert isinstance(ecm, Ecm) and isinstance(ecm.message, MapRequest)
    assert ecm.message.records[0].eid_text == "192.168.2.1/32"
    assert str(request.destination) == "10.0.1.254:4342"
    assert sent(etr.handle_data(newer_one, 2.1)) == []  # already asking
    assert counters.get("out.map-request.map-version") == 1


def test_smr_limiter_is_bounded() -> None:
    limiter = SmrLimiter()
    assert all(limiter.allow(("itr", n), 0.0) for n in range(4096))
    assert not limiter.allow(("itr", "one more"), 0.5)
    assert limiter.allow(("itr", "one more"), 1.5)
