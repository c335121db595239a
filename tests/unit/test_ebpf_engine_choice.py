"""`[data-plane] engine`: auto falls back to TUN with one log line, ebpf refuses to start."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from helpers.xtr_fixtures import lisp1_config
from lispstack.config.model import DataPlaneOptions, Engine, NodeConfig
from lispstack.io import ebpf_engine, ebpf_layout


def _config(engine: Engine) -> NodeConfig:
    return replace(lisp1_config(), data_plane=DataPlaneOptions(engine=engine))


@pytest.fixture
def no_object(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As on a host where the programs were not built."""
    monkeypatch.setattr(ebpf_layout, "OBJECT", tmp_path / "missing.bpf.o")


@pytest.mark.usefixtures("no_object")
def test_auto_falls_back_to_tun_with_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "lispstack.dataplane"):
        assert ebpf_engine.open_engine(_config(Engine.AUTO), {}, []) is None
    (record,) = caplog.records
    assert record.getMessage().startswith("data plane engine: tun (eBPF unavailable: ")


@pytest.mark.usefixtures("no_object")
def test_ebpf_refuses_to_start_without_the_programs() -> None:
    with pytest.raises(OSError, match="eBPF data plane: "):
        ebpf_engine.open_engine(_config(Engine.EBPF), {}, [])


def test_tun_never_loads_anything() -> None:
    assert ebpf_engine.open_engine(_config(Engine.TUN), {}, []) is None
