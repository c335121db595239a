"""Where `lispstack perf` takes its EIDs from: a prefix (with a count) or a file."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from lispstack.cli.main import main
from lispstack.io.perf import eids_from


def test_a_prefix_gives_count_addresses_inside_it() -> None:
    eids = eids_from("10.1.0.0/16", count=500)
    assert len(eids) == 500
    assert all(eid in IPv4Network("10.1.0.0/16") for eid in eids)
    assert eids == eids_from("10.1.0.0/16", count=500)  # seeded: runs are comparable


def test_a_file_path_with_slashes_is_read_as_a_file(tmp_path: Path) -> None:
    listing = tmp_path / "eids"
    listing.write_text("192.168.2.1\n\n4.2.2.2\n", encoding="ascii")
    assert eids_from(str(listing)) == [IPv4Address("192.168.2.1"), IPv4Address("4.2.2.2")]


def test_a_bad_line_or_a_missing_file_raises_what_the_command_reports(tmp_path: Path) -> None:
    listing = tmp_path / "eids"
    listing.write_text("192.168.2.1\nnot-an-address\n", encoding="ascii")
    with pytest.raises(ValueError, match="line 2"):
        eids_from(str(listing))
    with pytest.raises(OSError):
        eids_from(str(tmp_path / "absent"))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["perf", "map-resolver", "127.0.0.1", "--count", "0"], "--count: 0 is not at least 1"),
        (["perf", "map-resolver", "127.0.0.1", "--window", "x"], "--window: 'x' is not an integer"),
        (["perf", "map-resolver", "127.0.0.1", "--duration", "0"], "--duration: 0 is not above"),
        (["lig", "4.2.2.2", "--map-resolver", "127.0.0.1", "--iid", "-5"], "--iid: -5 is not in"),
        (["lig", "4.2.2.2", "--map-resolver", "127.0.0.1", "--timeout", "nan"], "--timeout"),
        (["lig", "4.2.2", "--map-resolver", "127.0.0.1"], "eid: '4.2.2' is not an IPv4 or IPv6"),
        (["lig", "4.2.2.2", "--map-resolver", "127.0.0.1", "--source", "x"], "--source: 'x'"),
        (["rig", "4.2.2.2", "--ddt-node", "::g"], "--ddt-node: '::g' is not an IPv4 or IPv6"),
    ],
)
def test_bad_numbers_and_addresses_are_usage_errors(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_an_unreadable_eid_file_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["perf", "map-resolver", "127.0.0.1", "--eids", "/nonexistent/eids"]) == 2
    error = capsys.readouterr().err
    assert error == "lispstack perf: cannot read /nonexistent/eids: No such file or directory\n"
