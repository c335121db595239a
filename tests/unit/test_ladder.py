"""`lispstack decode FILE --ladder OUT.svg|OUT.html`: one arrow per LISP message, in order."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers.ladder_captures import CAPTURES, LIG, seed_story
from helpers.pictures import SVG, assert_renders, groups
from lispstack.capture import build_udp_packet, write_pcap
from lispstack.cli.main import main
from lispstack.pictures.svg import RED

NS = {"svg": "http://www.w3.org/2000/svg"}
REGISTER = CAPTURES / "lispersnet-02-register-sha1-proxy-reply.pcap"
LIG_LABELS = [
    "ECM Map-Request fd00:211:1::1/128 nonce 0xef9c…dfdf",
    "ECM Map-Request fd00:211:1::1/128 nonce 0xef9c…dfdf",
    "Map-Reply fd00:211:1::/48 RLOC 10.77.0.12 TTL 1440 nonce 0xef9c…dfdf",
    "ECM Map-Request [200]10.221.1.1/32 nonce 0x53ea…dfdf",
    "ECM Map-Request [200]10.221.1.1/32 nonce 0x53ea…dfdf",
    "Map-Reply [200]10.221.1.0/24 RLOC 10.77.0.12 TTL 1440 nonce 0x53ea…dfdf",
]


def _arrows(svg: ET.Element) -> list[ET.Element]:
    return groups(svg, "arrow")


def _label(arrow: ET.Element) -> str:
    texts = arrow.findall("svg:text", NS)
    return texts[-1].text or ""


def _y(arrow: ET.Element) -> float:
    line = arrow.find("svg:line", NS)
    assert line is not None
    return float(line.get("y1", "0"))


def _ladder(tmp_path: Path, capture: Path, *extra: str, out: str = "ladder.svg") -> Path:
    path = tmp_path / out
    main(["decode", str(capture), "--ladder", str(path), *extra])
    return path


def test_one_arrow_per_message_in_order_with_its_labels(tmp_path: Path) -> None:
    svg = ET.parse(_ladder(tmp_path, LIG)).getroot()
    arrows = _arrows(svg)
    assert [a.get("data-frames") for a in arrows] == ["1", "2", "3", "4", "5", "6"]
    assert [_label(a) for a in arrows] == LIG_LABELS
    ys = [_y(a) for a in arrows]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)
    columns = [t.text for g in svg.findall("svg:g[@class='column']", NS) for t in g[1:2]]
    assert columns == ["10.77.0.13", "10.77.0.11", "10.77.0.12"]
    # the Map-Resolver's forward goes right (column 2 -> 3), the reply all the way back
    second, third = (arrows[i].find("svg:line", NS) for i in (1, 2))
    assert second is not None and third is not None
    assert float(second.get("x1", "0")) < float(second.get("x2", "0"))
    assert float(third.get("x1", "0")) > float(third.get("x2", "0"))
    assert not [a for a in arrows if "failed" in a.get("class", "")]
    title = arrows[2].find("svg:title", NS)
    assert title is not None and "rloc 1:" in (title.text or "")


def test_an_unauthenticated_message_is_red(tmp_path: Path) -> None:
    path = _ladder(tmp_path, REGISTER, "--key", "not-the-key")
    arrows = _arrows(ET.parse(path).getroot())
    assert [_label(a).split(" nonce")[0] for a in arrows] == [
        "Map-Register 10.211.1.0/24 +2 more RLOC 10.77.0.12,fd00:77::12 TTL 3",
        "Map-Notify 10.211.1.0/24 +2 more RLOC 10.77.0.12,fd00:77::12 TTL 3",
        "Map-Notify-Ack",
    ]
    assert all(_label(a).endswith("AUTH INVALID") for a in arrows)
    assert all(a.find("svg:line", NS).get("stroke") == RED for a in arrows)  # type: ignore[union-attr]
    good = _arrows(ET.parse(_ladder(tmp_path, REGISTER, "--key", "lispers-test-key")).getroot())
    assert [a.find("svg:line", NS).get("stroke") for a in good] != [RED] * 3  # type: ignore[union-attr]


def test_a_malformed_message_is_red_and_says_why(tmp_path: Path) -> None:
    capture = tmp_path / "bad.pcap"
    ok = build_udp_packet("10.0.0.1", "10.0.0.2", 4342, 4342, bytes.fromhex(
        "100000010102030405060708000000010a00000100200001c0a80201"))  # fmt: skip
    bad = build_udp_packet("10.0.0.2", "10.0.0.1", 4342, 4342, bytes.fromhex("2000000101"))
    write_pcap(capture, [(ok, 1.0), (bad, 2.0)])
    path = tmp_path / "bad.svg"
    assert main(["decode", str(capture), "--ladder", str(path)]) == 1
    arrows = _arrows(ET.parse(path).getroot())
    assert ["failed" in a.get("class", "") for a in arrows] == [False, True]
    assert _label(arrows[0]) == "Map-Request 192.168.2.1/32 nonce 0x0102…0708"
    assert _label(arrows[1]).startswith("MALFORMED: ")
    assert arrows[1].find("svg:line", NS).get("stroke") == RED  # type: ignore[union-attr]


def test_lab_capture_names_columns_dedups_routed_copies_and_groups_data(tmp_path: Path) -> None:
    capture = tmp_path / "seed.pcap"
    write_pcap(capture, seed_story())
    svg = ET.parse(_ladder(tmp_path, capture, "--topology", "seed")).getroot()
    columns = [g.findall("svg:text", NS) for g in svg.findall("svg:g[@class='column']", NS)]
    assert [[t.text for t in texts] for texts in columns] == [
        ["lisp1", "10.0.1.1"],
        ["mapserver", "10.0.1.254, 10.0.2.254"],
        ["lisp2", "10.0.2.2"],
    ]
    labels = [_label(a).split(" ")[:2] for a in _arrows(svg)]
    assert labels == [
        ["ECM", "Map-Request"],
        ["ECM", "Map-Request"],
        ["Map-Reply", "fd00:211:1::/48"],
        ["3", "data"],
        ["ECM", "Map-Request"],
        ["ECM", "Map-Request"],
        ["Map-Reply", "[200]10.221.1.0/24"],
        ["1", "data"],
    ]


def test_rsvg_renders_it_and_it_is_not_blank(tmp_path: Path) -> None:
    assert_renders(_ladder(tmp_path, LIG))


def test_the_html_page_holds_the_svg_and_a_tooltip_per_arrow(tmp_path: Path) -> None:
    page = _ladder(tmp_path, LIG, out="ladder.html").read_text()
    start, end = page.index("<svg"), page.index("</svg>") + len("</svg>")
    arrows = _arrows(ET.fromstring(page[start:end]))
    assert len(arrows) == 6
    assert all("frame " in (a.get("data-detail") or "") for a in arrows)
    assert 'getAttribute("data-detail")' in page and 'id="tooltip"' in page


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--topology", "seed"], "give --ladder too"),
        (["--ladder", "/nonexistent/dir/x.svg"], "no directory /nonexistent/dir"),
        (["--ladder", "x.svg", "--topology", "nosuch"], "no built-in topology 'nosuch'"),
    ],
)
def test_bad_ladder_options_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["decode", str(LIG), *argv]) == 2
    assert message in capsys.readouterr().err


def test_an_unwritable_ladder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["decode", str(LIG), "--ladder", str(tmp_path)]) == 2
    assert f"--ladder {tmp_path}: Is a directory" in capsys.readouterr().err


def test_a_capture_cut_short_draws_the_frames_before_the_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(LIG.read_bytes()[:-30])
    path = tmp_path / "cut.svg"
    assert main(["decode", str(cut), "--ladder", str(path)]) == 3
    assert [_label(a) for a in _arrows(ET.parse(path).getroot())] == LIG_LABELS[:5]
    out = capsys.readouterr()
    assert "ladder of 5 LISP frames (5 arrows, 0 in red)" in out.out
    assert "the capture stops" in out.err


def test_two_hundred_messages_keep_their_order_and_repeat_the_column_names(
    tmp_path: Path,
) -> None:
    packets: list[tuple[bytes, float]] = []
    start = 1_700_000_000.0
    for _ in range(25):
        packets += seed_story(start)
        start = packets[-1][1] + 2.0  # a pause: each story's data is a burst of its own
    capture = tmp_path / "long.pcap"
    write_pcap(capture, packets)
    svg = ET.parse(_ladder(tmp_path, capture, "--topology", "seed")).getroot()
    arrows = _arrows(svg)
    assert len(arrows) == 200
    ys = [_y(a) for a in arrows]
    assert ys == sorted(ys) and len(set(ys)) == 200
    frames = [int((a.get("data-frames") or "0").split(",")[0]) for a in arrows]
    assert frames == sorted(frames)
    repeated = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "column-name"]
    assert repeated == ["lisp1", "mapserver", "lisp2"] * 7  # before arrows 26, 51, ... 176
