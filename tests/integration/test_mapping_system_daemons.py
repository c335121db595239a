"""A Map-Server/Map-Resolver and an ETR as real processes over loopback."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from nodes import LISPSTACK, RunningNode, free_loopback, perf, start_node, wait_for

from helpers.tshark import check_pcap
from lispstack.capture import CaptureError, read_capture
from lispstack.io.perf import NONCE_OFFSET, templates
from lispstack.wire import Ecm, EidRecord, MapRequest

MS = free_loopback(2)
ETR = free_loopback(3)
SITES = """
[[sites]]
name = "site-a"
auth-key = "site-a-secret"
eid-prefixes = ["192.168.1.0/24"]

[[sites]]
name = "site-b"
auth-key = "site-b-secret"
eid-prefixes = ["192.168.2.0/24"]
"""


def _etr_config(proxy: bool = False, key: str = "site-b-secret") -> str:
    return f"""roles = ["etr"]
listen = ["{ETR}"]

[[database-mappings]]
eid-prefix = "192.168.2.0/24"
rlocs = [{{ address = "{ETR}", priority = 1, weight = 100 }}]

[[map-servers]]
address = "{MS}"
auth-key = "{key}"
proxy-reply = {"true" if proxy else "false"}

[tun]
device = "ls-etr-{os.getpid() % 100000}"
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture
def map_server(workdir: Path) -> Iterator[RunningNode]:
    node = start_node(
        workdir, "ms", f'roles = ["map-server", "map-resolver"]\nlisten = ["{MS}"]\n{SITES}'
    )
    yield node
    node.stop()


def lig(eid: str) -> dict[str, object]:
    result = subprocess.run(
        [LISPSTACK, "lig", eid, "--map-resolver", MS, "--json", "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


def _record(answer: dict[str, object]) -> dict[str, object]:
    message = answer["message"]
    assert isinstance(message, dict)
    record: dict[str, object] = message["records"][0]
    return record


def test_negative_replies_and_statistics(map_server: RunningNode) -> None:
    record = _record(lig("4.2.2.2"))
    assert (record["eid"], record["ttl"], record["action"]) == ("0.0.0.0/1", 15, "natively-forward")
    assert record["authoritative"] is True
    record = _record(lig("192.168.1.77"))
    assert (record["eid"], record["ttl"]) == ("192.168.1.0/24", 1)
    statistics = map_server.show("statistics")
    assert statistics["reply.negative-no-site"] == 1
    assert statistics["reply.negative-not-registered"] == 1
    assert [s["site"] for s in map_server.show("sites")] == ["site-a", "site-b"]


def test_repeated_requests_are_answered_and_counted_alike(map_server: RunningNode) -> None:
    """The daemon answers repeats from its cache: same reply but the nonce, same counters."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((MS, 0))
        sock.settimeout(5)
        (template,) = templates([IPv4Address("4.2.2.2")], IPv4Address(MS), sock.getsockname()[1])
        replies = []
        for nonce in (11, 12, 13):
            request = bytearray(template)
            request[NONCE_OFFSET : NONCE_OFFSET + 8] = nonce.to_bytes(8, "big")
            sock.sendto(request, (MS, 4342))
            replies.append(sock.recv(2048))
    assert [int.from_bytes(reply[4:12], "big") for reply in replies] == [11, 12, 13]
    assert replies[0][:4] == replies[2][:4] and replies[0][12:] == replies[2][12:]
    statistics = map_server.show("statistics")
    for name in ("in.ecm", "out.map-reply", "reply.negative-no-site", "out.datagrams"):
        assert statistics[name] == 3, name


def test_show_names_an_argument_it_cannot_use(map_server: RunningNode) -> None:
    for bad in ("not-an-eid", "192.168.1.0/33"):
        result = subprocess.run(
            [LISPSTACK, "show", "--socket", str(map_server.socket), "registrations", bad],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode != 0 and not result.stdout
        assert result.stderr.startswith(f"lispstack show: registrations {bad}: "), result.stderr
    assert [s["site"] for s in map_server.show("sites")] == ["site-a", "site-b"]  # serving


def test_etr_registers_and_answers_forwarded_requests(
    map_server: RunningNode, workdir: Path
) -> None:
    etr = start_node(workdir, "etr", _etr_config())
    try:
        assert wait_for(lambda: map_server.show("registrations") != [])
        (registration,) = map_server.show("registrations", "192.168.2.1")
        assert registration["site"] == "site-b" and registration["registered_by"] == ETR
        assert registration["rlocs"][0]["address"] == ETR
        assert wait_for(
            lambda: etr.show("database")[0]["registrations"][0]["state"] == "registered"
        )
        answer = lig("192.168.2.1")
        assert answer["replier"] == ETR  # forwarded by the Map-Server, answered by the ETR
        record = _record(answer)
        assert record["authoritative"] is True and record["ttl"] == 1440
        assert map_server.show("statistics")["forward.to-etr"] == 1
    finally:
        assert etr.stop() == 0
    assert not etr.socket.exists()
    assert wait_for(lambda: map_server.show("registrations") == [])  # deregistered at exit


def test_proxy_reply(map_server: RunningNode, workdir: Path) -> None:
    etr = start_node(workdir, "etr", _etr_config(proxy=True))
    try:
        assert wait_for(lambda: map_server.show("registrations") != [])
        answer = lig("192.168.2.1")
        assert answer["replier"] == MS
        record = _record(answer)
        assert record["authoritative"] is False
        assert record["rlocs"][0]["address"] == ETR  # type: ignore[index]
    finally:
        etr.stop()


def test_wrong_key_is_refused(map_server: RunningNode, workdir: Path) -> None:
    etr = start_node(workdir, "etr", _etr_config(key="not-the-key"))
    try:
        assert wait_for(lambda: map_server.show("statistics").get("drop.auth-failure", 0) > 0)
        assert map_server.show("registrations") == []
        assert etr.show("database")[0]["registrations"][0]["state"] != "registered"
    finally:
        etr.stop()


def test_garbage_does_not_hurt_the_node(map_server: RunningNode) -> None:
    rng = random.Random(4342)
    request = MapRequest(
        nonce=1,
        itr_rlocs=(IPv4Address("127.0.0.1"),),
        records=(EidRecord(eid=IPv4Address("4.2.2.2"), eid_mask_len=32),),
    )
    valid = Ecm(
        source=IPv4Address("127.0.0.1"),
        destination=IPv4Address("4.2.2.2"),
        source_port=9,
        message=request,
    ).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for sent in range(2000):
            if sent % 50 == 0:
                time.sleep(0.02)  # a flood, but one the socket buffer can hold: count it all
            if rng.random() < 0.5:
                payload = rng.randbytes(rng.randint(0, 120))
            else:
                payload = bytearray(valid)
                payload[rng.randrange(len(payload))] = rng.randrange(256)
            sock.sendto(bytes(payload), (MS, 4342))
    record = _record(lig("4.2.2.2"))
    assert record["eid"] == "0.0.0.0/1"
    statistics = map_server.show("statistics")
    received = sum(v for k, v in statistics.items() if k.startswith("in."))
    assert received >= 1990
    assert statistics["in.malformed"] > 900
    assert statistics.get("internal-error", 0) == 0


def test_an_address_it_cannot_bind_exits_2_naming_it(workdir: Path) -> None:
    config = workdir / "elsewhere.toml"
    # 192.0.2.77 (TEST-NET-1) is on no interface here: the bind fails, nothing is sent.
    config.write_text('[node]\nname = "far"\nroles = ["map-resolver"]\nlisten = ["192.0.2.77"]\n')
    result = subprocess.run(
        [LISPSTACK, "run", str(config), "--control-socket", str(workdir / "far.sock")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "far: cannot start: cannot bind 192.0.2.77:4342: Cannot assign requested address"
    ), result.stderr


def test_bad_config_exits_2_naming_file_and_key(workdir: Path) -> None:
    config = workdir / "broken.toml"
    config.write_text(
        '[node]\nname = "x"\nroles = ["map-server"]\n\n[[sites]]\nname = "a"\n'
        'auth-key = "k"\neid-prefixes = ["10.0.0.1/8"]\n'
    )
    result = subprocess.run(
        [LISPSTACK, "run", str(config)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert "broken.toml" in result.stderr and "eid-prefixes" in result.stderr
    assert "Traceback" not in result.stderr


def test_show_without_a_node(workdir: Path) -> None:
    result = subprocess.run(
        [LISPSTACK, "show", "--socket", str(workdir / "none.sock"), "statistics"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and "no node is listening" in result.stderr


def _frames_in(capture: Path) -> int:
    try:
        return len(read_capture(capture).datagrams)
    except CaptureError:
        return 0  # tcpdump has not written a whole frame yet


@pytest.mark.root
@pytest.mark.tshark
def test_control_plane_on_the_wire_is_wireshark_clean(
    map_server: RunningNode, workdir: Path
) -> None:
    capture = workdir / "control.pcap"
    tcpdump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-U", "-w", str(capture), f"udp port 4342 and host {MS}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_for(lambda: capture.exists() and capture.stat().st_size > 0, timeout=10)
        etr = start_node(workdir, "etr", _etr_config())
        try:
            assert wait_for(lambda: map_server.show("registrations") != [])
            lig("192.168.2.1")
            lig("4.2.2.2")
        finally:
            etr.stop()
        # Register, Notify, 2 ECMs (lig and its forwarding), ECM and reply, deregistration.
        assert wait_for(lambda: _frames_in(capture) >= 7, timeout=10)
    finally:
        tcpdump.terminate()
        tcpdump.wait(timeout=10)
    frames = check_pcap(capture)
    kinds = [frame.fields["lisp.type"][0] for frame in frames if frame.is_lisp]
    # Map-Register, Map-Notify, ECM to the resolver, ECM forwarded to the ETR, negative reply,
    # and the deregistration at the end.
    assert {"3", "4", "8", "2"} <= set(kinds), kinds
    for frame in frames:
        assert frame.clean, frame.problems()


def test_perf_load_generator_counts_replies(map_server: RunningNode) -> None:
    summary = perf(MS, "--eids", "4.0.0.0/8")
    assert map_server.show("statistics")["reply.negative-no-site"] >= summary["received"]


def test_unimplemented_petr_source_check_is_refused(workdir: Path) -> None:
    config = workdir / "petr.toml"
    config.write_text('[node]\nname = "p"\nroles = ["petr"]\n\n[petr]\ncheck-source = true\n')
    result = subprocess.run(
        [LISPSTACK, "run", str(config)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2 and "petr.check-source" in result.stderr
