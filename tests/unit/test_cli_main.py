"""The `lispstack` entry point: a bug in a subcommand is one line and exit 70, not a traceback."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from lispstack.cli import main as cli


def _broken(args: argparse.Namespace) -> int:
    raise RuntimeError("the bug")


def test_an_internal_error_is_one_line_and_exit_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LISPSTACK_DEBUG", raising=False)
    monkeypatch.setattr("lispstack.cli.lig_cmd.run", _broken)
    assert cli.main(["lig", "4.2.2.2", "--map-resolver", "127.0.0.1"]) == cli.EXIT_INTERNAL_ERROR
    error = capsys.readouterr().err
    assert error.startswith("lispstack lig: internal error: RuntimeError: the bug")
    assert error.count("\n") == 1


def _refused(args: argparse.Namespace) -> int:
    raise OSError(101, "Network is unreachable")


def test_a_refused_socket_call_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("lispstack.cli.rig_cmd.run", _refused)
    assert cli.main(["rig", "4.2.2.2", "--ddt-node", "127.0.0.1"]) == cli.EXIT_SYSTEM_REFUSED == 2
    assert capsys.readouterr().err == "lispstack rig: Network is unreachable\n"


def test_lispstack_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISPSTACK_DEBUG", "1")
    monkeypatch.setattr("lispstack.cli.lig_cmd.run", _broken)
    with pytest.raises(RuntimeError, match="the bug"):
        cli.main(["lig", "4.2.2.2", "--map-resolver", "127.0.0.1"])


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """`parser` and every subcommand parser under it."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found.extend(_parsers(sub))
    return found


def test_every_option_and_argument_has_help_text() -> None:
    undocumented = [
        f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
        for parser in _parsers(cli.build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._VersionAction)
        and not (action.help and action.help != argparse.SUPPRESS)
    ]
    assert undocumented == []


def test_a_command_imports_only_what_it_needs() -> None:
    """`lispstack show` (run many times by scripts and tests) does not load the node."""
    probe = (
        "import sys\nfrom lispstack.cli.main import main\n"
        "try:\n    main(['show', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('lispstack.io.daemon' in sys.modules, 'lispstack.cli.run_cmd' in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert shown.stdout.splitlines()[-1] == "False False", shown.stderr
    every = cli.build_parser()  # all commands, for `lispstack --help`
    assert "run" in every.format_help() and "demo" in every.format_help()
